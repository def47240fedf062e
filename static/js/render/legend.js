// Paints the colour legend of the output map: the palette as a gradient, with its two ends and zero.

import { formatNumber } from "./colors.js";

/** Fill `container` with a legend for `scale` ({scheme, low, high}) using the server's palette, and the map's
 * actual minimum and maximum (`stats`). */
export function drawLegend(container, scale, palettes, stats) {
  container.replaceChildren();
  if (!scale) return;
  const palette = palettes[scale.scheme] ?? palettes.sequential;
  const bar = document.createElement("canvas");
  bar.className = "bar";
  bar.width = palette.length;
  bar.height = 1;
  const ctx = bar.getContext("2d");
  palette.forEach((colour, i) => { ctx.fillStyle = colour; ctx.fillRect(i, 0, 1, 1); });
  const low = document.createElement("span");
  low.textContent = formatNumber(scale.low);
  const high = document.createElement("span");
  high.textContent = formatNumber(scale.high);
  container.append(low, bar, high);
  if (stats) {
    const range = document.createElement("span");
    range.textContent = `min ${formatNumber(stats.min)} · max ${formatNumber(stats.max)}`;
    container.append(range);
  }
  const meaning = { diverging: "Diverging scale: blue is negative, white is zero, red is positive.",
    sequential: "Sequential scale (viridis): dark purple is the lowest value, yellow the highest.",
    gray: "Gray scale: black is the lowest value, white the highest." }[scale.scheme] ?? "";
  container.title = scale.label ? `${scale.label}. ${meaning}` : meaning;
  if (scale.label) {
    const what = document.createElement("span");
    what.className = "what";
    what.textContent = scale.label;
    container.prepend(what);
  }
}
