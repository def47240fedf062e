// The loupe: an inset on the input canvas that magnifies the window's neighbourhood and writes the window's
// numbers (from the server's frame). Pure draw: it paints and returns where it painted.

import { formatNumber } from "./colors.js";
import { plateText } from "./label.js";

const MARGIN = 1; // cells shown around the window on each side

function windowCells(frame, pads) {
  if (frame.rows && frame.cols) {
    return { rows: Array.from(frame.rows.data, (r) => r + pads[0]), cols: Array.from(frame.cols.data, (c) => c + pads[2]) };
  }
  const index = frame.input_index?.data ?? (frame.output_index ? frame.output_index.data.slice(1) : null);
  return index ? { rows: [index[0] + pads[0]], cols: [index[1] + pads[2]] } : null;
}

/** The numbers to write in the window's cells: one channel of the patch, or the single input value. */
function windowNumbers(frame, channel) {
  if (frame.patch) {
    const shape = frame.patch.shape;
    const size = shape.at(-1) * shape.at(-2);
    const c = shape.length === 3 ? Math.min(channel, shape[0] - 1) : 0;
    return { values: frame.patch.data.subarray(c * size, (c + 1) * size), cols: shape.at(-1) };
  }
  if (frame.input) return { values: frame.input.data, cols: 1 };
  if (frame.input_values) { // a transposed convolution's input pixel, one value per channel
    const values = frame.input_values.data;
    return { values: values.subarray(Math.min(channel, values.length - 1)), cols: 1 };
  }
  return null;
}

/**
 * Paint the loupe in a corner away from the window, joined to it by a line. Returns its css rect or null.
 * data: {width, height, view, image, padded:[Hp, Wp], pads, frame, channel, channelName, colors}
 */
export function drawLoupe(ctx, data) {
  const { width, height, view, image, padded, pads, frame, colors } = data;
  const cells = frame && image ? windowCells(frame, pads) : null;
  if (!cells) return null;
  const [r0, r1] = [cells.rows[0] - MARGIN, cells.rows.at(-1) + MARGIN];
  const [c0, c1] = [cells.cols[0] - MARGIN, cells.cols.at(-1) + MARGIN];
  const span = Math.max(r1 - r0 + 1, c1 - c0 + 1);
  const size = Math.round(Math.min(Math.max(Math.min(width, height) * 0.62, 120), 360));
  const cell = (size - 8) / span;
  const windowX = view.originX + (cells.cols[0] + cells.cols.at(-1) + 1) / 2 * view.scale;
  const windowY = view.originY + (cells.rows[0] + cells.rows.at(-1) + 1) / 2 * view.scale;
  const x = width - size - 8;
  const y = windowY < height / 2 ? height - size - 8 : 8;
  ctx.save();
  ctx.strokeStyle = colors.accent;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  ctx.moveTo(windowX, windowY);
  ctx.lineTo(x + size / 2, y + (y > windowY ? 0 : size));
  ctx.stroke();
  ctx.fillStyle = "#111";
  ctx.fillRect(x, y, size, size);
  const left = x + 4 + (size - 8 - (c1 - c0 + 1) * cell) / 2;
  const top = y + 4 + (size - 8 - (r1 - r0 + 1) * cell) / 2;
  ctx.imageSmoothingEnabled = false;
  for (let r = r0; r <= r1; r += 1) { // cell by cell, so cells beyond the padded input stay dark
    if (r < 0 || r >= padded[0]) continue;
    const sx = Math.max(c0, 0);
    const ex = Math.min(c1, padded[1] - 1);
    if (ex < sx) continue;
    ctx.drawImage(image, sx, r, ex - sx + 1, 1, left + (sx - c0) * cell, top + (r - r0) * cell, (ex - sx + 1) * cell, cell);
  }
  const numbers = windowNumbers(frame, data.channel);
  const font = Math.min(cell / 2.8, 24);
  ctx.font = `600 ${font}px ui-monospace, monospace`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  cells.rows.forEach((row, i) => cells.cols.forEach((col, j) => {
    const cx = left + (col - c0) * cell;
    const cy = top + (row - r0) * cell;
    ctx.strokeStyle = colors.accent;
    ctx.lineWidth = 2;
    ctx.strokeRect(cx + 1, cy + 1, cell - 2, cell - 2);
    const value = numbers?.values[i * numbers.cols + j];
    if (value === undefined || cell < 16) return;
    plateText(ctx, formatNumber(value), cx + cell / 2, cy + cell / 2, cell - 6);
  }));
  ctx.strokeStyle = colors.accent;
  ctx.lineWidth = 2;
  ctx.strokeRect(x + 1, y + 1, size - 2, size - 2);
  {
    ctx.font = "600 12px system-ui, sans-serif";
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    const long = data.channelName ? `magnified · ${data.channelName} values` : "magnified";
    const label = ctx.measureText(long).width + 16 <= size ? long : (data.channelName ? `${data.channelName} values` : "");
    ctx.fillStyle = "rgba(17,17,17,0.85)";
    ctx.fillRect(x + 4, y + 4, ctx.measureText(label).width + 8, 17);
    ctx.fillStyle = "#fff";
    ctx.fillText(label, x + 8, y + 6);
  }
  ctx.restore();
  return { x, y, width: size, height: size };
}
