// First-layer filters as small magnified images: each kernel value one crisp cell, in the diverging palette's
// colour the server chose for it (its index on [-scale, scale]). Canvases are reused, so a new epoch only repaints.

import { formatNumber, paletteEntry } from "../render/colors.js";

/**
 * Paint kernels into `container`, one canvas per kernel.
 * @param {HTMLElement} container
 * @param {{name: string, values: number[][], colors: number[][]}[]} kernels values and the server's palette
 *   index of each (the /ws/train filters' `colors`, a catalogue kernel's `colors`)
 * @param {object} palettes the server's palettes
 */
export function drawKernels(container, kernels, palettes) {
  container.classList.toggle("many", kernels.length > 16); // a few filters are drawn large, many smaller
  while (container.children.length > kernels.length) container.lastElementChild.remove();
  kernels.forEach((kernel, k) => {
    let figure = container.children[k];
    if (!figure) {
      figure = document.createElement("figure");
      figure.append(document.createElement("canvas"), document.createElement("figcaption"));
      container.append(figure);
    }
    const [canvas, caption] = figure.children;
    const rows = kernel.values.length;
    const cols = kernel.values[0].length;
    canvas.width = cols;
    canvas.height = rows;
    canvas.style.aspectRatio = `${cols} / ${rows}`;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, cols, rows);
    kernel.colors.forEach((row, r) => row.forEach((index, c) => {
      const entry = paletteEntry(index, "diverging", palettes);
      if (!entry) return; // no colour (a non-finite value)
      ctx.fillStyle = entry.background;
      ctx.fillRect(c, r, 1, 1);
    }));
    canvas.setAttribute("aria-label", `${kernel.name}: ${kernel.values.map((row) => row.map(formatNumber).join(" ")).join("; ")}`);
    canvas.title = kernel.values.map((row) => row.map(formatNumber).join("  ")).join("\n");
    caption.textContent = kernel.name;
  });
}

/** The legend of a diverging scale: −scale (blue) … 0 (white) … +scale (red). */
export function drawScale(container, scale, palettes) {
  const colors = palettes.diverging;
  const stops = colors.filter((_, i) => i % Math.max(1, Math.floor(colors.length / 16)) === 0);
  container.replaceChildren();
  const bar = document.createElement("span");
  bar.className = "scale-bar";
  bar.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
  const low = document.createElement("span");
  low.textContent = formatNumber(-scale);
  const high = document.createElement("span");
  high.textContent = `+${formatNumber(scale)}`;
  container.append(low, bar, high);
}
