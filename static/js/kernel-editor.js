// The kernel controls: catalogue chips, parameters, editable grids (per channel), typed text, filters.
// It only turns input into update(patch); the numbers it shows come from the server's run or catalogue.

import { ApiError, parseKernel } from "./api.js";

const CHANNEL_NAMES = ["R", "G", "B"];

export class KernelEditor {
  /**
   * @param {Document} document
   * @param {object[]} catalogue entries of GET /api/kernels
   * @param {(patch: object) => void} update
   * @param {(message: string, isError: boolean) => void} report
   */
  constructor(document, catalogue, update, report) {
    this.document = document;
    this.catalogue = catalogue;
    this.update = update;
    this.report = report;
    this.state = null;
    this.run = null;
    this.badCell = null;
    this.typed = null; // kernelsOf() the filters the typed text made, while they are on stage
    this.chips = document.getElementById("kernel-catalogue");
    this.grids = document.getElementById("kernel-grids");
    this.text = document.getElementById("kernel-text");
    this.error = document.getElementById("kernel-error");
    for (const entry of catalogue) {
      const chip = document.createElement("button");
      chip.type = "button";
      chip.textContent = entry.name.replace("_", " ");
      chip.dataset.name = entry.name;
      chip.title = entry.description;
      chip.addEventListener("click", () => this.setKernel({ name: entry.name, params: { ...entry.params } }));
      this.chips.append(chip);
    }
    let timer = null;
    this.text.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.parseText(), 350);
    });
    document.getElementById("bias").addEventListener("input", (event) => {
      const value = Number(event.target.value);
      if (event.target.value.trim() !== "" && Number.isFinite(value)) this.patchFilter({ bias: value });
    });
    document.getElementById("per-channel").addEventListener("change", (event) => this.setPerChannel(event.target.checked));
  }

  /**
   * The step moved into map `map`: where each map is one filter's, show that filter (its kernel, chip and
   * bias), so the editor and the step panel name the same filter. Only on a change of map, so a filter
   * picked while the step stays in one map stays picked.
   */
  showMap(map) {
    if (map === this.lastMap || !this.state) return;
    this.lastMap = map;
    const perFilter = (this.state.op === "conv2d" && !this.state.depthwise) || this.state.op === "conv_transpose2d";
    if (perFilter && map >= 0 && map < this.state.filters.length && map !== this.state.filterIndex) {
      this.update({ filterIndex: map });
    }
  }

  /** The filter shown and edited: depthwise computes with filter 1 alone, so it shows filter 1. */
  get index() {
    if (this.state.depthwise && this.state.op === "conv2d") return 0;
    return Math.min(this.state.filterIndex, this.state.filters.length - 1);
  }

  get filter() {
    return this.state.filters[this.index];
  }

  patchFilter(patch) {
    const filters = this.state.filters.map((f, i) => (i === this.index ? { ...f, ...patch } : f));
    this.update({ filters });
  }

  setKernel(kernel) {
    this.badCell = null;
    this.error.textContent = "";
    this.text.value = ""; // a catalogue kernel replaces the typed one: its text would no longer be the truth
    this.typed = null;
    this.patchFilter({ kernel, perChannel: false, channels: null });
  }

  /** What the typed text decides (every filter's kernels), to tell when the text no longer shows the truth. */
  static kernelsOf(filters) {
    return JSON.stringify(filters.map((f) => [f.kernel, f.perChannel ? f.channels : null]));
  }

  /**
   * Typed blocks (separated by blank lines) as filters: one block is this filter's kernel on every channel;
   * as many blocks as input channels are its per-channel slices; a multiple of that fills this filter and
   * the next ones (made as needed), each keeping its bias.
   */
  applyBlocks(blocks) {
    const depth = this.state.depthwise && this.state.op === "conv2d" ? 1 : this.channelCount();
    if (blocks.length > 1 && blocks.length % depth !== 0) {
      return `${blocks.length} kernels typed: give one per input channel (${depth}) for this filter, or ` +
        `${depth} per filter for several filters (a blank line between kernels)`;
    }
    if (blocks.length > 1 && this.state.depthwise && this.state.op === "conv2d") {
      return "depthwise filters each channel with the same single kernel: type one kernel";
    }
    const per = blocks.length === 1 ? 1 : depth;
    const start = this.index;
    const made = Array.from({ length: blocks.length / per }, (_, k) => {
      const slices = blocks.slice(k * per, (k + 1) * per);
      const bias = (this.state.filters[start + k] ?? this.filter).bias ?? 0;
      return per > 1 ? { kernel: { values: slices[0] }, bias, perChannel: true, channels: slices.map((values) => ({ values })) }
        : { kernel: { values: slices[0] }, bias, perChannel: false, channels: null };
    });
    const filters = [...this.state.filters.slice(0, start), ...made, ...this.state.filters.slice(start + made.length)];
    this.typed = KernelEditor.kernelsOf(filters);
    this.update({ filters });
    return "";
  }

  async parseText() {
    const text = this.text.value;
    if (!text.trim()) return;
    try {
      const parsed = await parseKernel(text);
      this.badCell = null;
      this.error.textContent = this.applyBlocks(parsed.blocks ?? [parsed.kernel]);
    } catch (error) {
      if (error.name === "AbortError") return;
      if (!(error instanceof ApiError)) throw error;
      this.error.textContent = error.message;
      this.badCell = error.row ? [error.row - 1, (error.column ?? 1) - 1] : null;
      this.renderTextGrid(text);
    }
  }

  /** The numbers of filter f, channel c, as the server computed on them (falls back to the catalogue). */
  values(f, c) {
    const weight = this.run?.weight;
    if (weight) {
      if (!Array.isArray(weight[0][0])) return weight; // depthwise (kh, kw)
      if (this.state.op === "conv_transpose2d") return weight[c]?.[f] ?? weight[0][0];
      return weight[f]?.[c] ?? weight[0][0];
    }
    const kernel = this.state.filters[f]?.kernel;
    if (kernel?.values) return kernel.values;
    return this.catalogue.find((entry) => entry.name === kernel?.name)?.kernel ?? [[0]];
  }

  channelCount() {
    if (!this.run) return this.state.color === "gray" ? 1 : 3;
    return this.run.input_shape.length === 3 ? this.run.input_shape[0] : 1;
  }

  setPerChannel(on) {
    if (!on) return this.patchFilter({ perChannel: false, channels: null });
    const f = this.index;
    const channels = Array.from({ length: this.channelCount() }, (_, c) => ({ values: this.values(f, c) }));
    return this.patchFilter({ perChannel: true, channels });
  }

  editCell(channel, row, col, text) {
    const value = Number(text);
    if (text.trim() === "" || !Number.isFinite(value)) return;
    const f = this.index;
    if (this.filter.perChannel && this.filter.channels) {
      const channels = this.filter.channels.map((ref, c) => {
        const values = (ref.values ?? this.values(f, c)).map((line) => [...line]);
        if (c === channel) values[row][col] = value;
        return { values };
      });
      this.patchFilter({ channels });
    } else {
      const values = this.values(f, 0).map((line) => [...line]);
      values[row][col] = value;
      this.patchFilter({ kernel: { values } });
    }
  }

  renderGrid(values, label, channel) {
    const wrap = this.document.createElement("div");
    const caption = this.document.createElement("div");
    caption.className = "kernel-grid-label";
    caption.textContent = label;
    const grid = this.document.createElement("div");
    grid.className = "kernel-grid";
    grid.style.gridTemplateColumns = `repeat(${values[0].length}, auto)`;
    values.forEach((line, r) => line.forEach((value, c) => {
      const input = this.document.createElement("input");
      input.type = "text";
      input.inputMode = "decimal";
      input.value = Number.isInteger(value) ? String(value) : Number(value.toPrecision(4)).toString();
      input.setAttribute("aria-label", `${label} row ${r + 1} column ${c + 1}`);
      input.addEventListener("change", () => this.editCell(channel, r, c, input.value));
      grid.append(input);
    }));
    wrap.append(caption, grid);
    return wrap;
  }

  /** Show typed text as a grid, marking the cell the server's parser pointed at. */
  renderTextGrid(text) {
    const rows = text.split(/[;\n]/).map((line) => line.trim()).filter(Boolean).map((line) => line.split(/[\s,]+/));
    const width = Math.max(...rows.map((line) => line.length), 1);
    this.grids.replaceChildren();
    const grid = this.document.createElement("div");
    grid.className = "kernel-grid";
    grid.style.gridTemplateColumns = `repeat(${width}, auto)`;
    const [badRow, badCol] = this.badCell ?? [-1, -1];
    rows.forEach((line, r) => {
      for (let c = 0; c < width; c += 1) {
        const cell = this.document.createElement("input");
        cell.readOnly = true;
        cell.value = line[c] ?? "";
        cell.setAttribute("aria-label", `typed row ${r + 1} column ${c + 1}`);
        if (r === badRow && (c === badCol || (badCol >= line.length && c === line.length))) {
          cell.classList.add("bad");
          cell.setAttribute("aria-invalid", "true");
        }
        grid.append(cell);
      }
    });
    this.grids.append(grid);
  }

  renderFilterTabs() {
    const tabs = this.document.getElementById("filter-tabs");
    tabs.replaceChildren();
    const disabled = this.state.depthwise && this.state.op === "conv2d";
    this.state.filters.forEach((_, i) => {
      const button = this.document.createElement("button");
      button.type = "button";
      button.textContent = String(i + 1);
      button.title = `Filter ${i + 1}: makes output map ${i + 1}`;
      button.setAttribute("aria-pressed", String(i === this.index));
      button.disabled = disabled && i > 0;
      if (button.disabled) button.title = `Depthwise computes with filter 1 alone (filter ${i + 1} is kept for later)`;
      button.addEventListener("click", () => this.update({ filterIndex: i }));
      tabs.append(button);
    });
    const add = this.document.createElement("button");
    add.type = "button";
    add.textContent = "+";
    add.title = "Add a filter (one more output map)";
    add.setAttribute("aria-label", "Add a filter");
    add.disabled = disabled || this.state.filters.length >= 16;
    add.addEventListener("click", () => this.update({
      filters: [...this.state.filters, { ...this.filter }], filterIndex: this.state.filters.length,
    }));
    const remove = this.document.createElement("button");
    remove.type = "button";
    remove.textContent = "−";
    remove.title = "Remove this filter";
    remove.setAttribute("aria-label", "Remove this filter");
    remove.disabled = this.state.filters.length <= 1;
    remove.addEventListener("click", () => this.update({
      filters: this.state.filters.filter((_, i) => i !== this.index), filterIndex: 0,
    }));
    tabs.append(add, remove);
  }

  renderParams() {
    const holder = this.document.getElementById("kernel-params");
    holder.replaceChildren();
    const kernel = this.filter.kernel;
    const entry = kernel.name && this.catalogue.find((item) => item.name === kernel.name);
    this.document.getElementById("kernel-description").textContent =
      entry ? entry.description : kernel.values ? "Your own kernel: edit any cell." : "";
    if (!entry) return;
    for (const [name, fallback] of Object.entries(entry.params)) {
      const label = this.document.createElement("label");
      label.className = "field small";
      label.title = name === "sigma" ? "Sigma: the spread of the bell curve; larger blurs more." :
        "Size: the side of the square kernel (odd, up to 15).";
      const span = this.document.createElement("span");
      span.textContent = name;
      const input = this.document.createElement("input");
      input.type = "number";
      input.step = name === "sigma" ? "0.1" : "2";
      input.min = name === "sigma" ? "0.1" : "1";
      input.max = name === "sigma" ? "10" : "15";
      input.value = String(kernel.params?.[name] ?? fallback);
      input.addEventListener("change", () => {
        const value = Number(input.value);
        if (Number.isFinite(value)) this.patchFilter({ kernel: { name: kernel.name, params: { ...kernel.params, [name]: value } } });
      });
      label.append(span, input);
      holder.append(label);
    }
  }

  /** Redraw from the state and the latest run (whose weight holds the exact numbers computed on). */
  render(state, run) {
    this.state = state;
    this.run = run;
    if (this.typed && this.typed !== KernelEditor.kernelsOf(state.filters) && this.document.activeElement !== this.text) {
      this.text.value = ""; // the kernels changed elsewhere (a chip, a cell, a preset): the text is stale
      this.typed = null;
    }
    const kernel = this.filter.kernel;
    for (const chip of this.chips.children) chip.setAttribute("aria-pressed", String(chip.dataset.name === kernel.name));
    this.renderFilterTabs();
    this.renderParams();
    const bias = this.document.getElementById("bias");
    if (this.document.activeElement !== bias) bias.value = String(this.filter.bias ?? 0);
    this.document.getElementById("per-channel").checked = Boolean(this.filter.perChannel);
    this.document.getElementById("per-channel").disabled = this.channelCount() < 2 || state.depthwise;
    if (this.error.textContent && this.badCell) return; // keep showing the typed text with its bad cell
    this.grids.replaceChildren();
    const f = this.index;
    if (this.filter.perChannel) {
      const count = this.channelCount();
      for (let c = 0; c < count; c += 1) {
        const values = this.filter.channels?.[c]?.values ?? this.values(f, c);
        // R, G, B for a photo's channels; a typed matrix's are numbered, as the step panel numbers them
        const rgb = count === 3 && (this.run?.source_kind ?? state.source?.kind) === "image";
        this.grids.append(this.renderGrid(values, `${rgb ? CHANNEL_NAMES[c] : `ch ${c + 1}`} slice`, c));
      }
    } else {
      const depth = this.channelCount();
      const label = depth > 1 && !state.depthwise ? `same on all ${depth} channels` : "kernel";
      this.grids.append(this.renderGrid(this.values(f, 0), label, 0));
    }
  }
}
