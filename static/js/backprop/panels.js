// Painters of the Backprop tab's steps: numbers from the server's answer laid out as grids, rows and formulas.
// Nothing is computed here: every number shown is one the server sent (colours only follow the sign and size).

import { formatNumber } from "../render/colors.js";

const MAX_NUMBERS = 196; // a grid with more cells is drawn as colours only (each cell's number in its tooltip)
const MAX_VECTOR = 32; // a vector longer than this is drawn as colours only

export function node(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  Object.assign(element, props);
  element.append(...children.filter((child) => child !== null && child !== undefined));
  return element;
}

const shape = (values) => (Array.isArray(values) ? [values.length, ...shape(values[0])] : []);
const flat = (values) => (Array.isArray(values) ? values.flat(Infinity) : [values]);

/** A cell's colour: blue for negative, red for positive, stronger for larger magnitude (relative to `top`). */
function tint(cell, value, top) {
  if (!top || !Number.isFinite(value) || value === 0) return;
  const strength = Math.min(Math.abs(value) / top, 1);
  const hue = value < 0 ? "37, 99, 235" : "220, 38, 38";
  cell.style.background = `rgba(${hue}, ${(0.12 + 0.6 * strength).toFixed(3)})`;
  if (strength > 0.65) cell.style.color = "#fff";
}

const largest = (values) => values.reduce((top, v) => Math.max(top, Number.isFinite(v) ? Math.abs(v) : 0), 0);

/**
 * A (rows x cols) grid of numbers (a 2-D list from the server); `mark(r, c)` outlines cells (e.g. a pool's
 * winners). Large grids show colours only, each cell's number in its tooltip.
 */
export function numberGrid(values, { label = "", mark = null, numbers = null } = {}) {
  const [rows, cols] = shape(values);
  const all = flat(values);
  const top = largest(all);
  const showNumbers = numbers ?? rows * cols <= MAX_NUMBERS;
  const box = node("div", { className: `bp-grid${showNumbers ? "" : " heat"}` });
  box.style.gridTemplateColumns = `repeat(${cols}, 1fr)`; // equal columns: a grid of numbers reads as a matrix
  box.setAttribute("role", "table");
  if (label) box.setAttribute("aria-label", label);
  for (let r = 0; r < rows; r += 1) {
    for (let c = 0; c < cols; c += 1) {
      const value = values[r][c];
      const cell = node("span", { className: showNumbers ? "bp-num" : "", title: `[${r}, ${c}] ${formatNumber(value)}` });
      if (showNumbers) cell.textContent = formatNumber(value);
      tint(cell, value, top);
      if (mark?.(r, c)) cell.classList.add("win");
      box.append(cell);
    }
  }
  return box;
}

/** One row of numbers (a vector), labelled; long vectors as colours only. */
export function numberRow(values, { numbers = null } = {}) {
  return numberGrid([values], { numbers: numbers ?? values.length <= MAX_VECTOR });
}

/** A captioned figure around a grid or row. */
export function figure(caption, content, note = "") {
  return node("figure", { className: "bp-figure" }, content,
    node("figcaption", {}, caption, note ? node("span", { className: "hint", textContent: ` ${note}` }) : null));
}

/** A formula line: text pieces and numbers (numbers get the number style). */
export function formula(...parts) {
  const line = node("p", { className: "bp-formula" });
  for (const part of parts) {
    line.append(typeof part === "number" ? node("span", { className: "bp-num", textContent: formatNumber(part) }) : part);
  }
  return line;
}

/** A table of classes (columns) and named rows of numbers, the label's column marked. */
export function classTable(rows, label, predicted) {
  const count = rows[0][1].length;
  const table = node("table", { className: "bp-classes" });
  const head = node("tr", {}, node("th", { textContent: "class" }));
  for (let k = 0; k < count; k += 1) {
    const tags = [k === label ? "label" : "", k === predicted ? "top" : ""].filter(Boolean).join(", ");
    head.append(node("th", { className: k === label ? "label" : "", textContent: String(k), title: tags }));
  }
  table.append(node("thead", {}, head));
  const body = node("tbody");
  for (const [name, values, className] of rows) {
    const row = node("tr", { className: className ?? "" }, node("th", { scope: "row", textContent: name }));
    values.forEach((value, k) => row.append(node("td", { className: `bp-num${k === label ? " label" : ""}`,
      textContent: formatNumber(value) })));
    body.append(row);
  }
  table.append(body);
  return table;
}

/** The 28x28 digit (or any small image in [0, 1]) drawn as grey pixels on a canvas. */
export function digitCanvas(values) {
  const [rows, cols] = shape(values);
  const canvas = node("canvas", { className: "bp-digit", width: cols, height: rows });
  canvas.setAttribute("aria-label", `the input, ${rows}×${cols}`);
  const context = canvas.getContext("2d");
  const image = context.createImageData(cols, rows);
  for (let r = 0; r < rows; r += 1) {
    for (let c = 0; c < cols; c += 1) {
      const level = Math.round(Math.min(Math.max(values[r][c], 0), 1) * 255);
      image.data.set([level, level, level, 255], 4 * (r * cols + c));
    }
  }
  context.putImageData(image, 0, 0);
  return canvas;
}

/** A layer's gradient norms as a short line. */
export function norms(layer) {
  const parts = [`‖dL/dY‖ = ${formatNumber(layer.grad_output_norm)}`, `‖dL/dX‖ = ${formatNumber(layer.grad_input_norm)}`];
  for (const [name, value] of Object.entries(layer.grad_norms)) parts.push(`‖dL/d${name}‖ = ${formatNumber(value)}`);
  return node("p", { className: "hint bp-norms", textContent: parts.join(" · ") });
}

export const shapeText = (dims) => `(${dims.join(", ")})`;
