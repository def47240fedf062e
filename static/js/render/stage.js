// Painters for the two stage canvases: the padded input with the window, and the map filling in.
// Pure draw(ctx, data): no fetch, no DOM lookups, no state writes. Coordinates come from the server.

import { formatNumber } from "./colors.js";
import { plateText } from "./label.js";

export const NUMBERS_FROM = 26; // css px per cell from which numbers are written in the cells

/** The css px per cell at which a rows x cols grid just fits a width x height box. */
export function fitScale(width, height, rows, cols) {
  return Math.min(width / cols, height / rows);
}

/**
 * Where a grid of rows x cols cells goes on a canvas: css px per cell and the css position of cell (0, 0).
 * `fit` is the css px per cell at zoom 1 (by default the grid fills the box); `zoom` multiplies it. Along an
 * axis where the grid fits, it is centred; where it is larger than the box, `center` ([x, y] in 0..1 of the
 * grid) goes to the middle, but never so far that the grid's edge leaves empty canvas.
 */
export function layout(width, height, rows, cols, zoom, center, fit = fitScale(width, height, rows, cols)) {
  const scale = fit * zoom;
  const [cx, cy] = center ?? [0.5, 0.5];
  const place = (box, length, c) => {
    if (length <= box) return (box - length) / 2;
    return Math.min(0, Math.max(box - length, box / 2 - c * length));
  };
  return { scale, originX: place(width, cols * scale, cx), originY: place(height, rows * scale, cy), rows, cols };
}

/** The part of the grid a view shows: [x, y] in 0..1 of the grid at the box's middle. */
export function centerOf(view, width, height) {
  return [(width / 2 - view.originX) / (view.cols * view.scale), (height / 2 - view.originY) / (view.rows * view.scale)];
}

/** The grid cell under a css point, or null. */
export function cellAt(view, x, y) {
  const col = Math.floor((x - view.originX) / view.scale);
  const row = Math.floor((y - view.originY) / view.scale);
  return row >= 0 && col >= 0 && row < view.rows && col < view.cols ? [row, col] : null;
}

function prepare(ctx, data) {
  const { width, height, dpr } = data;
  if (ctx.canvas.width !== Math.round(width * dpr) || ctx.canvas.height !== Math.round(height * dpr)) {
    ctx.canvas.width = Math.round(width * dpr);
    ctx.canvas.height = Math.round(height * dpr);
  }
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.imageSmoothingEnabled = false;
}

function cellRect(view, row, col, rows = 1, cols = 1) {
  return [view.originX + col * view.scale, view.originY + row * view.scale, cols * view.scale, rows * view.scale];
}

const patterns = new WeakMap(); // context -> colour -> pattern: made once, not on every painted frame

function hatch(ctx, colour) {
  const known = patterns.get(ctx) ?? new Map();
  patterns.set(ctx, known);
  if (!known.has(colour)) known.set(colour, makeHatch(ctx, colour));
  return known.get(colour);
}

function makeHatch(ctx, colour) {
  const tile = new OffscreenCanvas(8, 8);
  const t = tile.getContext("2d");
  t.strokeStyle = colour;
  t.lineWidth = 1.5;
  t.beginPath();
  t.moveTo(0, 8); t.lineTo(8, 0); t.moveTo(-2, 2); t.lineTo(2, -2); t.moveTo(6, 10); t.lineTo(10, 6);
  t.stroke();
  return ctx.createPattern(tile, "repeat");
}

function writeNumbers(ctx, view, values, offsetRow, offsetCol, visible) {
  if (!values || view.scale < NUMBERS_FROM) return;
  // as large as the cell allows (a projector reads a 5x5 grid from the back), long numbers smaller
  const fontFor = (text) => `${Math.min(view.scale * 0.4, (view.scale * 0.9) / (0.62 * text.length), 40)}px ui-monospace, monospace`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  values.values.forEach((line, r) => line.forEach((value, c) => {
    const row = values.top + r + offsetRow;
    const col = values.left + c + offsetCol;
    if (visible && !visible(row, col)) return;
    const [x, y, w, h] = cellRect(view, row, col);
    const text = value === null ? "−∞" : formatNumber(value);
    ctx.font = fontFor(text);
    plateText(ctx, text, x + w / 2, y + h / 2, w * 0.86); // inside a marked cell's outline (an eighth of a cell)
  }));
}

/** A rectangle grown around its centre to at least `size` css px, so a window stays visible when zoomed out. */
function atLeast(rect, size) {
  const [x, y, w, h] = rect;
  const grow = (start, length) => (length >= size ? [start, length] : [start + length / 2 - size / 2, size]);
  const [nx, nw] = grow(x, w);
  const [ny, nh] = grow(y, h);
  return [nx, ny, nw, nh];
}

function outline(ctx, rect, colour, width) {
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.strokeRect(rect[0] + width / 2, rect[1] + width / 2, rect[2] - width, rect[3] - width);
}

/**
 * The input: padded image, hatched padding ring, real-image border, and the current window.
 * data: {width, height, dpr, view, image, padded:[Hp, Wp], pads:[t, b, l, r], frame, op, values, colors}
 */
export function drawInput(ctx, data) {
  prepare(ctx, data);
  const { view, image, padded, pads, frame, colors } = data;
  if (!image) return;
  const [top, , left] = [pads[0], pads[1], pads[2]];
  const [x, y, w, h] = cellRect(view, 0, 0, padded[0], padded[1]);
  ctx.drawImage(image, x, y, w, h);
  if (pads.some((p) => p > 0)) {
    ctx.save();
    ctx.fillStyle = hatch(ctx, colors.hatch);
    ctx.beginPath();
    ctx.rect(x, y, w, h);
    const inner = cellRect(view, top, left, padded[0] - pads[0] - pads[1], padded[1] - pads[2] - pads[3]);
    ctx.rect(inner[0] + inner[2], inner[1], -inner[2], inner[3]); // a hole: the real image is not hatched
    ctx.fill("evenodd");
    ctx.restore();
    outline(ctx, inner, colors.border, 1);
  }
  if (frame) drawWindow(ctx, view, frame, data.op, top, left, colors);
  writeNumbers(ctx, view, data.values, 0, 0, null); // over the window: its fill and outlines cut the numbers
}

function drawWindow(ctx, view, frame, op, top, left, colors) {
  if (frame.rows && frame.cols) {
    const rows = Array.from(frame.rows.data, (r) => r + top);
    const cols = Array.from(frame.cols.data, (c) => c + left);
    const box = cellRect(view, rows[0], cols[0], rows.at(-1) - rows[0] + 1, cols.at(-1) - cols[0] + 1);
    ctx.fillStyle = colors.accentFill;
    for (const r of rows) for (const c of cols) ctx.fillRect(...cellRect(view, r, c));
    if (view.scale >= 5) for (const r of rows) for (const c of cols) outline(ctx, cellRect(view, r, c), colors.accent, 1);
    outline(ctx, atLeast(box, 12), colors.accent, Math.max(2, Math.min(4, view.scale / 6)));
    if (frame.argmax) {
      const [r, c] = frame.argmax.data;
      outline(ctx, cellRect(view, r + top, c + left), colors.winner, Math.max(2, view.scale / 5));
    }
  } else if (frame.sources) {
    const data = frame.sources.data;
    for (let k = 0; k < data.length; k += 3) {
      if (data[k + 2] <= 0) continue;
      ctx.globalAlpha = 0.25 + 0.75 * data[k + 2];
      outline(ctx, cellRect(view, data[k] + top, data[k + 1] + left), colors.accent, Math.max(2, view.scale / 6));
      ctx.globalAlpha = 1;
    }
  } else if (frame.input_index) {
    const [r, c] = frame.input_index.data;
    outline(ctx, atLeast(cellRect(view, r + top, c + left), 12), colors.accent, Math.max(2, view.scale / 5));
  } else if (frame.output_index) {
    const [, r, c] = frame.output_index.data;
    outline(ctx, atLeast(cellRect(view, r + top, c + left), 12), colors.accent, Math.max(2, view.scale / 5));
  }
}

/**
 * The output: the finished map revealed up to the current step (or a transposed conv's partial output),
 * the current cell ringed, numbers when zoomed in.
 * data: {width, height, dpr, view, image, shape:[oh, ow], reveal:{kind, row, col}, frame, values, colors}
 */
export function drawOutput(ctx, data) {
  prepare(ctx, data);
  const { view, image, shape, reveal, frame, colors } = data;
  const [x, y, w, h] = cellRect(view, 0, 0, shape[0], shape[1]);
  ctx.fillStyle = hatch(ctx, colors.empty); // not computed yet
  ctx.fillRect(x, y, w, h);
  if (image) {
    const scaleX = image.width / shape[1];
    const scaleY = image.height / shape[0];
    if (reveal.kind === "all") ctx.drawImage(image, x, y, w, h);
    else if (reveal.kind === "upto") {
      if (reveal.row > 0) ctx.drawImage(image, 0, 0, image.width, reveal.row * scaleY, x, y, w, reveal.row * view.scale);
      if (reveal.col >= 0) {
        const [rx, ry, rw, rh] = cellRect(view, reveal.row, 0, 1, reveal.col + 1);
        ctx.drawImage(image, 0, reveal.row * scaleY, (reveal.col + 1) * scaleX, scaleY, rx, ry, rw, rh);
      }
    }
  }
  outline(ctx, [x - 1, y - 1, w + 2, h + 2], colors.border, 1);
  const visible = reveal.kind === "all" ? null : (row, col) =>
    reveal.kind === "upto" && (row < reveal.row || (row === reveal.row && col <= reveal.col));
  if (frame) markFrame(ctx, view, frame, [x, y, w, h], colors);
  writeNumbers(ctx, view, data.values, 0, 0, visible); // over the marks: a stamp's thick outline cut the numbers
}

/** The current step's cells on the output: a transposed conv's stamp (earlier overlaps filled), or the window. */
function markFrame(ctx, view, frame, [x, y, w, h], colors) {
  if (frame.out_rows && frame.out_cols) {
    const rows = Array.from(frame.out_rows.data);
    const cols = Array.from(frame.out_cols.data);
    ctx.save();
    ctx.beginPath();
    ctx.rect(x, y, w, h);
    ctx.clip();
    const stamps = frame.earlier_stamps?.data; // cells earlier stamps reached: the overlap adds up there
    ctx.fillStyle = colors.accentFill;
    rows.forEach((r, i) => cols.forEach((c, j) => { if (stamps?.[i * cols.length + j] > 0) ctx.fillRect(...cellRect(view, r, c)); }));
    for (const r of rows) for (const c of cols) outline(ctx, cellRect(view, r, c), colors.accent, Math.max(1.5, view.scale / 8));
    ctx.restore();
  } else if (frame.output_index) {
    const [, r, c] = frame.output_index.data;
    outline(ctx, atLeast(cellRect(view, r, c), 12), colors.accent, Math.max(2, Math.min(4, view.scale / 4)));
  }
}
