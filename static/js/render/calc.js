// Builds the calculation panel for one frame: patch (.) kernel = products, per channel, their sums,
// the bias and the value; or the pool window, the up-sampling sources, the transposed scatter.
// Every number shown comes from the server's frame; nothing is recomputed here.

import { formatNumber, paletteEntry } from "./colors.js";

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Colour `node` with the server's palette index `index` on `scale`'s scheme (no scale: left plain). */
function tinted(node, index, scale, palettes) {
  if (!scale || index === undefined) return node;
  const entry = paletteEntry(index, scale.scheme, palettes);
  node.style.background = entry ? entry.background : "transparent";
  node.style.color = entry ? entry.ink : "inherit";
  return node;
}

const STEP_CHARS = 3; // the least room kept for numbers that change every step, so 0 next to 238 does not jolt

// Layout memory, no numbers: per run, the longest number each kind of grid has shown so far. A grid's cells keep
// that room for the rest of the run, so the panel does not shift as the window slides.
const widest = new WeakMap();

/** The characters to keep room for in the grid `kind` of `run` (at least `least`) now it shows `chars`. */
function roomFor(run, kind, chars, least) {
  if (!widest.has(run)) widest.set(run, new Map());
  const seen = widest.get(run);
  const room = Math.max(seen.get(kind) ?? least, chars);
  seen.set(kind, room);
  return room;
}

/**
 * A numeric grid (rows x cols from flat arrays of numbers and their palette indices), tinted on `scale`. Its cells
 * are as wide as the longest number the run's `kind` of grid has shown (`roomFor`): a kernel of 1s and 2s takes
 * less room than products in the thousands, so a 5x5 step's nine grids fit in larger type.
 */
function grid(values, colors, rows, cols, scale, palettes, options = {}) {
  const box = element("div", "num-grid");
  box.style.gridTemplateColumns = `repeat(${cols}, auto)`;
  box.setAttribute("role", "table");
  let chars = 1;
  for (let r = 0; r < rows; r += 1) {
    for (let c = 0; c < cols; c += 1) {
      const value = values[r * cols + c];
      const text = formatNumber(value === -Infinity ? -Infinity : value);
      chars = Math.max(chars, text.length);
      const cell = tinted(element("span", "", text), colors?.[r * cols + c], scale, palettes);
      if (options.padding?.(r, c)) cell.classList.add("pad");
      if (options.mark?.(r, c)) cell.classList.add("win");
      box.append(cell);
    }
  }
  const room = options.run ? roomFor(options.run, options.kind, chars, options.least ?? STEP_CHARS) : chars;
  box.style.setProperty("--chars", String(room)); // the cells' width, in the stylesheet
  return box;
}

/** Elements start..stop-1 of a frame field's data (undefined when the frame lacks the field). */
function part(field, start, stop) {
  return field?.data.subarray(start, stop);
}

function channelNames(run, count) {
  const rgb = run.input_shape.length === 3 && run.input_shape[0] === 3 && count === 3 && run.source_kind === "image";
  return Array.from({ length: count }, (_, c) => (rgb ? ["R", "G", "B"][c] : `ch ${c + 1}`));
}

function isPadding(frame, run) {
  const [height, width] = run.geometry.in_shape;
  const rows = frame.rows?.data ?? [];
  const cols = frame.cols?.data ?? [];
  return (r, c) => rows[r] < 0 || rows[r] >= height || cols[c] < 0 || cols[c] >= width;
}

function kernelSlice(weight, f, c) {
  if (!weight) return undefined;
  if (!Array.isArray(weight[0][0])) return weight.flat(); // depthwise (kh, kw)
  return weight[f][c].flat();
}

function convCalc(body, frame, run, palettes) {
  const [channels, kh, kw] = frame.patch.shape;
  const f = frame.output_index.data[0];
  const depthwise = !Array.isArray(run.weight[0][0]);
  const names = depthwise ? channelNames(run, run.input_shape[0]).slice(f, f + 1) : channelNames(run, channels);
  const pad = isPadding(frame, run);
  const rows = element("div", "calc-channels");
  for (let c = 0; c < channels; c += 1) {
    const size = kh * kw;
    // two halves: one line each when the channels stack (calc-rows), two lines when they stand side by side
    const factors = element("div", "calc-half");
    factors.append(element("span", "label", names[c]),
      grid(part(frame.patch, c * size, (c + 1) * size), part(frame.patch_color, c * size, (c + 1) * size), kh, kw,
        run.scales.input, palettes, { padding: pad, run, kind: "patch" }),
      element("span", "calc-op", "⊙"),
      grid(kernelSlice(run.weight, f, depthwise ? 0 : c), kernelSlice(run.weight_colors, f, depthwise ? 0 : c), kh, kw,
        run.scales.kernel, palettes, { run, kind: "kernel", least: 1 }));
    const result = element("div", "calc-half");
    result.append(element("span", "calc-op", "="),
      grid(part(frame.products, c * size, (c + 1) * size), part(frame.products_color, c * size, (c + 1) * size), kh, kw,
        run.scales.products, palettes, { run, kind: "products" }),
      element("span", "calc-op", "Σ →"),
      tinted(element("span", "sum", formatNumber(frame.channel_sums.data[c])), frame.channel_sums_color?.data[c],
        run.scales.products, palettes));
    const row = element("div", "calc-row");
    row.append(factors, result);
    rows.append(row);
  }
  body.append(rows);
  body.dataset.layouts = "calc-rows calc-columns"; // the fitter keeps whichever takes the larger numbers
  const bias = run.bias?.[depthwise ? 0 : f] ?? 0;
  const total = element("div", "total");
  const terms = Array.from(frame.channel_sums.data, (s) => formatNumber(s)).join(" + ");
  total.append(element("span", "", channels > 1 ? `${names.join(" + ")} + bias = ${terms} + ${formatNumber(bias)} =` :
    `${terms} + bias ${formatNumber(bias)} =`));
  total.append(tinted(element("span", "result", formatNumber(frame.value.data[0])), frame.value_color?.data[0], run.scales.output,
    palettes));
  body.append(total);
}

function poolCalc(body, frame, run, palettes) {
  const [kh, kw] = frame.patch.shape;
  const pad = isPadding(frame, run);
  const argmax = frame.argmax?.data;
  const rows = frame.rows.data;
  const cols = frame.cols.data;
  const mark = argmax ? (r, c) => rows[r] === argmax[0] && cols[c] === argmax[1] : null;
  const row = element("div", "calc-row");
  row.append(element("span", "label", "window"), grid(frame.patch.data, frame.patch_color?.data, kh, kw, run.scales.input,
    palettes, { padding: pad, mark, run, kind: "window" }));
  const value = frame.value.data[0];
  let prefix = "Σ =";
  if (argmax) prefix = "max =";
  else if (frame.divisor) prefix = `sum ${formatNumber(frame.sum.data[0])} ÷ ${formatNumber(frame.divisor.data[0])} =`;
  const total = element("div", "total");
  total.append(element("span", "", prefix),
    tinted(element("span", "result", formatNumber(value)), frame.value_color?.data[0], run.scales.output, palettes));
  if (argmax) total.append(element("span", "hint", `winner at row ${argmax[0]}, col ${argmax[1]}; padding counts as −∞`));
  row.append(total);
  body.append(row);
}

function upsampleCalc(body, frame, run, palettes) {
  const sources = frame.sources.data;
  const values = frame.source_values.data;
  const total = element("div", "total");
  const parts = [];
  for (let k = 0; k < values.length; k += 1) {
    const weight = sources[3 * k + 2];
    parts.push(`${formatNumber(weight)} × ${formatNumber(values[k])} (row ${sources[3 * k]}, col ${sources[3 * k + 1]})`);
  }
  total.append(element("span", "", parts.join(" + ") + " ="),
    tinted(element("span", "result", formatNumber(frame.value.data[0])), frame.value_color?.data[0], run.scales.output,
      palettes));
  body.append(total);
}

/** The numbers of filter f's kernel (as computed on) for input channel c of a transposed conv, or null. */
function transposedKernel(run, f, c) {
  const weight = run.weight;
  if (!weight) return null;
  if (!Array.isArray(weight[0][0])) return weight.flat(); // depthwise (kh, kw)
  return weight[c]?.[f]?.flat() ?? null; // (C, F, kh, kw)
}

const MAX_STAMP_TERMS = 4; // channel terms written out in a transposed conv's stamp (and the last)

/**
 * A transposed conv's step: the pixel scales the kernel (the stamp), then each stamped cell of the shown
 * map as `previous + x·k = new` with the running sums from the frame; overlaps (cells earlier stamps
 * already added to) are marked, cells cropped by padding are hatched.
 */
function transposedCalc(body, frame, run, palettes, mapIndex) {
  const [maps, kh, kw] = frame.contribution.shape;
  const f = Math.min(Math.max(mapIndex, 0), maps - 1);
  const inputs = frame.input_values.data;
  const depthwise = run.weight && !Array.isArray(run.weight[0][0]);
  const names = channelNames(run, inputs.length);
  const size = kh * kw;
  const row = element("div", "calc-row");
  const all = inputs.length > 1 && !depthwise ? Array.from(inputs, (v, c) => `${formatNumber(v)} × ${names[c]} slice`) : null;
  // many channels (a 64-channel gradient): the first few and the last, all of them on hover, so the numbers
  // stay large enough to read instead of one line of 64 terms in the smallest font
  const terms = !all ? `${formatNumber(depthwise ? inputs[f] : inputs[0])} × kernel`
    : all.length <= MAX_STAMP_TERMS ? all.join(" + ")
      : `${all.slice(0, MAX_STAMP_TERMS - 1).join(" + ")} + … + ${all[all.length - 1]} (${all.length} channels)`;
  const sum = element("span", "sum", terms);
  if (all) sum.title = all.join(" + ");
  if (all && all.length > MAX_STAMP_TERMS) sum.classList.add("terms");
  row.append(element("span", "label", "stamp"), sum, element("span", "calc-op", "="),
    grid(part(frame.contribution, f * size, (f + 1) * size), part(frame.contribution_color, f * size, (f + 1) * size),
      kh, kw, run.scales.output, palettes, { run, kind: "stamp" }));
  body.append(row);
  const before = frame.sums_before?.data;
  const after = frame.sums_after?.data;
  if (!before || !after) return;
  const x = depthwise ? inputs[f] : inputs.length === 1 ? inputs[0] : null;
  const kernel = x === null ? null : transposedKernel(run, f, 0);
  const stamps = frame.earlier_stamps?.data;
  const [height, width] = run.geometry.out_shape;
  const sums = element("div", "sum-grid");
  sums.style.gridTemplateColumns = `repeat(${kw}, auto)`;
  sums.setAttribute("role", "table");
  sums.setAttribute("aria-label", "Running sums of the stamped cells");
  for (let i = 0; i < kh; i += 1) {
    for (let j = 0; j < kw; j += 1) {
      const at = f * size + i * kw + j;
      const r = frame.out_rows.data[i];
      const c = frame.out_cols.data[j];
      const added = kernel ? `${formatNumber(x)}×${formatNumber(kernel[i * kw + j])}`
        : formatNumber(frame.contribution.data[at]);
      const cell = element("span", "sum-cell");
      cell.append(element("span", "", `${formatNumber(before[at])} + ${added} = `),
        tinted(element("b", "", formatNumber(after[at])), frame.sums_after_color?.data[at], run.scales.output, palettes));
      const overlap = stamps && stamps[i * kw + j] > 0;
      const cropped = r < 0 || c < 0 || r >= height || c >= width;
      if (overlap) cell.classList.add("overlap");
      if (cropped) cell.classList.add("pad");
      cell.title = `output row ${r}, col ${c}${cropped ? " (cropped off by padding)" : ""}: ` +
        (overlap ? `${stamps[i * kw + j]} earlier stamp${stamps[i * kw + j] === 1 ? "" : "s"} added here` : "a fresh cell");
      sums.append(cell);
    }
  }
  const sumsRow = element("div", "calc-row");
  sumsRow.append(element("span", "label", "sums"), sums);
  body.append(sumsRow);
  const bias = run.bias?.[depthwise ? 0 : f] ?? 0;
  body.append(element("p", "hint",
    `map ${f + 1}: previous + x·k = new for each stamped cell; outlined cells overlap earlier stamps and add up` +
    (bias ? `; the bias ${formatNumber(bias)} is added to every cell at the end` : "")));
}

function activationCalc(body, frame, run, palettes) {
  const total = element("div", "total");
  total.append(element("span", "", `${run.op}(`),
    tinted(element("span", "sum", formatNumber(frame.input.data[0])), frame.input_color?.data[0], run.scales.input, palettes),
    element("span", "", ") ="),
    tinted(element("span", "result", formatNumber(frame.value.data[0])), frame.value_color?.data[0], run.scales.output,
      palettes));
  body.append(total);
}

/** Fill `body` with the calculation of `frame` (a frameOf() object) for the run described by `run`. */
export function drawCalc(body, frame, run, palettes, mapIndex) {
  body.replaceChildren();
  delete body.dataset.layouts;
  // a step of many rows of numbers (a 5x5 RGB kernel: 15): the stylesheet gives the panel a larger share when
  // presented (the projector's 24 px), and the pictures the rest otherwise
  const shape = frame?.patch?.shape;
  body.toggleAttribute("data-tall", Boolean(shape && shape.length === 3 && shape[0] * shape[1] > 9));
  if (!frame || !run) return;
  if (frame.products) convCalc(body, frame, run, palettes);
  else if (frame.patch) poolCalc(body, frame, run, palettes);
  else if (frame.sources) upsampleCalc(body, frame, run, palettes);
  else if (frame.contribution) transposedCalc(body, frame, run, palettes, mapIndex);
  else if (frame.input) activationCalc(body, frame, run, palettes);
}

/** A one-line description of where the frame is. */
export function describeFrame(frame) {
  if (!frame) return "";
  if (frame.output_index) {
    const [f, r, c] = frame.output_index.data;
    return `output map ${f + 1}, row ${r}, col ${c}`;
  }
  const [r, c] = frame.input_index.data;
  return `input pixel row ${r}, col ${c}`;
}
