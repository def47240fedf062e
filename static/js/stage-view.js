// The stage: two linked canvases (zoom, pan, hover, click), their images, and numbers when zoomed in.
// It paints with render/stage.js and reports clicks and hovers; the server decides what they mean.

import { region } from "./api.js";
import { drawLoupe } from "./render/loupe.js";
import { runningSums } from "./render/running.js";
import { cellAt, drawInput, drawOutput, layout, NUMBERS_FROM } from "./render/stage.js";

const COLORS_LIGHT = { accent: "#f59e0b", accentFill: "rgba(245,158,11,0.18)", winner: "#db2777", hatch: "rgba(60,70,90,0.55)",
  border: "rgba(60,70,90,0.6)", empty: "rgba(120,130,150,0.35)" };
const COLORS_DARK = { ...COLORS_LIGHT, accent: "#fbbf24", hatch: "rgba(210,220,235,0.5)", border: "rgba(210,220,235,0.5)",
  empty: "rgba(200,210,230,0.22)" };

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.decoding = "async";
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error(`could not load ${url}`));
    image.src = url;
  });
}

export class StageView extends EventTarget {
  constructor(document) {
    super();
    this.input = document.getElementById("input-canvas");
    this.output = document.getElementById("output-canvas");
    this.run = null;
    this.frame = null;
    this.hover = null;
    this.images = { input: null, output: null };
    this.urls = { input: null, output: null };
    this.values = { input: null, output: null };
    this.zoom = 1;
    this.center = [0.5, 0.5];
    this.dark = matchMedia("(prefers-color-scheme: dark)");
    this.pending = false;
    this.loupe = null; // where the loupe was last painted (css px on the input canvas), or null
    new ResizeObserver(() => this.paint()).observe(this.input.parentElement);
    for (const canvas of [this.input, this.output]) this.interact(canvas);
  }

  /** Swap in a new run: its geometry and pictures. */
  setRun(run) {
    this.run = run;
    this.values = { input: null, output: null };
    this.setImage("input", run.padded_png_url);
  }

  /** Which picture the output canvas shows (a result map or a transposed conv's partial output). */
  setImage(which, url) {
    if (!url || this.urls[which] === url) return;
    this.urls[which] = url;
    loadImage(url).then((image) => {
      if (this.urls[which] !== url) return; // a newer picture was asked for meanwhile
      this.images[which] = image;
      this.paint();
      this.dispatchEvent(new CustomEvent("imageloaded", { detail: { which, url } }));
    }).catch((error) => this.dispatchEvent(new CustomEvent("error", { detail: error })));
  }

  setFrame(frame, reveal) {
    this.frame = frame;
    this.reveal = reveal;
    if (this.follow && this.zoom > 1) this.keepInView();
    this.paint();
  }

  setZoom(zoom, center = this.center) {
    this.zoom = Math.min(Math.max(zoom, 1), 256);
    this.center = center.map((v) => Math.min(Math.max(v, 0), 1));
    this.paint();
    this.dispatchEvent(new CustomEvent("zoom", { detail: { zoom: this.zoom } }));
  }

  shapes() {
    const g = this.run.geometry;
    const padded = g.padded_shape ?? [g.in_shape[0] + g.pads[0] + g.pads[1], g.in_shape[1] + g.pads[2] + g.pads[3]];
    return { padded, output: g.out_shape };
  }

  views() {
    const { padded, output } = this.shapes();
    const box = (canvas) => canvas.parentElement.getBoundingClientRect();
    const a = box(this.input);
    const b = box(this.output);
    return {
      input: layout(a.width, a.height, padded[0], padded[1], this.zoom, this.center),
      output: layout(b.width, b.height, output[0], output[1], this.zoom, this.center),
      sizes: { input: a, output: b },
    };
  }

  /** Pan so the current window stays on screen while zoomed in. */
  keepInView() {
    const rows = this.frame?.rows?.data;
    const cols = this.frame?.cols?.data;
    if (!rows || !this.run) return;
    const { padded } = this.shapes();
    const g = this.run.geometry;
    const cy = (rows[0] + g.pads[0] + 0.5) / padded[0];
    const cx = (cols[0] + g.pads[2] + 0.5) / padded[1];
    const half = 0.5 / this.zoom;
    if (Math.abs(cx - this.center[0]) > half * 0.8 || Math.abs(cy - this.center[1]) > half * 0.8) this.center = [cx, cy];
  }

  paint() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.paintNow();
    });
  }

  paintNow(withNumbers = true) {
    if (!this.run) return;
    const views = this.views();
    if (!views.sizes.input.height || !views.sizes.output.height) return; // hidden (the chain view is shown)
    const colors = this.dark.matches ? COLORS_DARK : COLORS_LIGHT;
    const dpr = window.devicePixelRatio || 1;
    const frame = this.hover ?? this.frame;
    drawInput(this.input.getContext("2d"), {
      width: views.sizes.input.width, height: views.sizes.input.height, dpr, view: views.input,
      image: this.images.input, padded: this.shapes().padded, pads: this.run.geometry.pads, frame,
      op: this.run.op, values: this.values.input, colors,
    });
    this.loupe = views.input.scale < NUMBERS_FROM ? drawLoupe(this.input.getContext("2d"), {
      width: views.sizes.input.width, height: views.sizes.input.height, view: views.input, image: this.images.input,
      padded: this.shapes().padded, pads: this.run.geometry.pads, frame, channel: this.inputChannel ?? 0,
      channelName: this.channelName(), colors,
    }) : null;
    drawOutput(this.output.getContext("2d"), {
      width: views.sizes.output.width, height: views.sizes.output.height, dpr, view: views.output,
      image: this.images.output, shape: this.run.geometry.out_shape, reveal: this.reveal ?? { kind: "none" },
      frame, values: this.values.output ?? runningSums(frame, this.channel ?? 0), colors,
    });
    if (withNumbers) this.fetchNumbers(views);
  }

  /** The name of the input channel whose numbers the loupe writes ("R", "gray"), or "" for a typed matrix. */
  channelName() {
    if (this.run.source_kind !== "image") return "";
    return this.run.input_shape[0] === 3 ? ["R", "G", "B"][this.inputChannel ?? 0] : "gray";
  }

  /** When cells are big enough, ask the server for the numbers of the visible ones (debounced). */
  fetchNumbers(views) {
    clearTimeout(this.numbersTimer);
    if (views.input.scale < NUMBERS_FROM) {
      this.values = { input: null, output: null };
      return;
    }
    this.numbersTimer = setTimeout(async () => {
      const channel = this.channel ?? 0;
      const visible = (view, size) => {
        const top = Math.max(0, Math.floor(-view.originY / view.scale));
        const left = Math.max(0, Math.floor(-view.originX / view.scale));
        return [top, left, Math.min(64, Math.ceil(size.height / view.scale) + 1), Math.min(64, Math.ceil(size.width / view.scale) + 1)];
      };
      try {
        // a transposed convolution's output changes every step: its final numbers would mislead
        const partial = this.run.op === "conv_transpose2d";
        const [inputValues, outputValues] = await Promise.all([
          region(this.run.run_id, "input", this.inputChannel ?? 0, ...visible(views.input, views.sizes.input)),
          partial ? null : region(this.run.run_id, "output", channel, ...visible(views.output, views.sizes.output)),
        ]);
        this.values = { input: inputValues, output: outputValues };
        this.paintNow(false);
      } catch (error) {
        if (error.name !== "AbortError") this.dispatchEvent(new CustomEvent("error", { detail: error }));
      }
    }, 120);
  }

  interact(canvas) {
    let drag = null;
    canvas.addEventListener("wheel", (event) => {
      event.preventDefault();
      const factor = event.deltaY < 0 ? 1.25 : 0.8;
      this.setZoom(this.zoom * factor, this.pointFraction(canvas, event));
    }, { passive: false });
    canvas.addEventListener("pointerdown", (event) => {
      drag = { x: event.clientX, y: event.clientY, center: [...this.center], moved: false };
      canvas.setPointerCapture(event.pointerId);
    });
    canvas.addEventListener("pointermove", (event) => {
      if (drag && this.zoom > 1) {
        const box = canvas.getBoundingClientRect();
        const dx = (event.clientX - drag.x) / (box.width * this.zoom);
        const dy = (event.clientY - drag.y) / (box.height * this.zoom);
        if (Math.abs(event.clientX - drag.x) + Math.abs(event.clientY - drag.y) > 3) drag.moved = true;
        this.center = [drag.center[0] - dx, drag.center[1] - dy].map((v) => Math.min(Math.max(v, 0), 1));
        this.paint();
        return;
      }
      if (!drag) this.emitCell("hovercell", canvas, event);
    });
    canvas.addEventListener("pointerup", (event) => {
      if (drag && !drag.moved) this.emitCell("pickcell", canvas, event);
      drag = null;
    });
    canvas.addEventListener("pointerleave", () => this.dispatchEvent(new CustomEvent("hovercell", { detail: null })));
  }

  pointFraction(canvas, event) {
    if (!this.run) return this.center;
    const views = this.views();
    const view = canvas === this.input ? views.input : views.output;
    const box = canvas.getBoundingClientRect();
    const col = (event.clientX - box.left - view.originX) / view.scale;
    const row = (event.clientY - box.top - view.originY) / view.scale;
    return [col / view.cols, row / view.rows];
  }

  emitCell(type, canvas, event) {
    if (!this.run) return;
    const views = this.views();
    const box = canvas.getBoundingClientRect();
    const which = canvas === this.input ? "input" : "output";
    const cell = cellAt(views[which], event.clientX - box.left, event.clientY - box.top);
    this.dispatchEvent(new CustomEvent(type, { detail: cell && { which, cell } }));
  }
}
