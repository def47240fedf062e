// The stage: two linked canvases (zoom, pan, hover, click), their images, and numbers when zoomed in.
// It paints with render/stage.js and reports clicks and hovers; the server decides what they mean.

import { region } from "./api.js";
import { drawLoupe } from "./render/loupe.js";
import { runningSums } from "./render/running.js";
import { cellAt, centerOf, drawInput, drawOutput, fitScale, layout, NUMBERS_FROM } from "./render/stage.js";

const COLORS_LIGHT = { accent: "#f59e0b", accentFill: "rgba(245,158,11,0.18)", winner: "#db2777", hatch: "rgba(60,70,90,0.55)",
  border: "rgba(60,70,90,0.6)", empty: "rgba(120,130,150,0.35)" };
const COLORS_DARK = { ...COLORS_LIGHT, accent: "#fbbf24", hatch: "rgba(210,220,235,0.5)", border: "rgba(210,220,235,0.5)",
  empty: "rgba(200,210,230,0.22)" };

const LOUPE_BELOW = 12; // css px per cell under which the window's neighbourhood is shown magnified

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
    this.sameScale = true; // input and output at the same css px per cell (else each fits its own panel)
    this.dark = matchMedia("(prefers-color-scheme: dark)");
    this.pending = 0; // the animation frame a scheduled paint waits for, or 0
    this.loupe = null; // where the loupe was last painted (css px on the input canvas), or null
    this.strip = document.getElementById("map-strip");
    this.thumbs = []; // the small multiples: {button, canvas, url, image} per output map
    this.reveals = [];
    this.shownMap = 0;
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

  /**
   * The small multiples: every output map's picture (one URL each), none when there is only one map.
   * A click on one is told as a "pickmap" event with its index.
   */
  setMapImages(urls) {
    if (urls.length < 2) {
      this.thumbs = [];
      this.strip.replaceChildren();
      this.strip.hidden = true;
      return;
    }
    this.strip.hidden = false;
    if (this.thumbs.length !== urls.length) {
      this.thumbs = urls.map((_, k) => {
        const canvas = document.createElement("canvas");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "map-thumb";
        button.title = `Map ${k + 1}: click to show it and step through it`;
        button.setAttribute("aria-label", `Map ${k + 1}`);
        button.append(canvas);
        button.addEventListener("click", () => this.dispatchEvent(new CustomEvent("pickmap", { detail: k })));
        return { button, canvas, url: null, image: null };
      });
      this.strip.replaceChildren(...this.thumbs.map((thumb) => thumb.button));
    }
    urls.forEach((url, k) => {
      const thumb = this.thumbs[k];
      if (!url || thumb.url === url) return;
      thumb.url = url;
      loadImage(url).then((image) => {
        if (thumb.url !== url) return;
        thumb.image = image;
        this.paint();
      }).catch((error) => this.dispatchEvent(new CustomEvent("error", { detail: error })));
    });
  }

  /** The frame on stage, how much of the shown map it reveals, and (small multiples) of each map. */
  setFrame(frame, reveal, reveals = [], shownMap = 0) {
    const moved = frame !== this.frame; // a new step (not a repaint or a hover): Follow may pan to it
    this.frame = frame;
    this.reveal = reveal;
    this.reveals = reveals;
    this.shownMap = shownMap;
    if (moved && this.follow && this.zoom > 1) this.keepInView();
    // now, not on the next animation frame: the step panel is written in this same task, and a stage painted a
    // frame later showed the last step's window and loupe beside the new step's numbers
    this.paintNow();
  }

  /** Zoom to `zoom` (1 = fit), the grid point `anchor` ([x, y] in 0..1, default the middle) staying where it is. */
  setZoom(zoom, anchor = null) {
    const next = Math.min(Math.max(zoom, 1), 256);
    if (next === 1) this.center = [0.5, 0.5];
    else if (this.run) {
      const views = this.views();
      const [cx, cy] = centerOf(views.input, views.sizes.input.width, views.sizes.input.height);
      const [px, py] = anchor ?? [cx, cy];
      const keep = this.zoom / next; // the anchor's distance from the middle shrinks or grows with the zoom
      this.center = [px - (px - cx) * keep, py - (py - cy) * keep];
    }
    this.zoom = next;
    this.paint();
    this.dispatchEvent(new CustomEvent("zoom", { detail: { zoom: this.zoom } }));
  }

  /** Zoom by `factor` anchored on the current window (the zoom buttons). */
  zoomBy(factor) {
    this.setZoom(this.zoom * factor, this.windowCenter());
  }

  /** Fit both pictures, or give each its own panel's fit ("fit each"). */
  setSameScale(same) {
    this.sameScale = same;
    this.paint();
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
    const fits = [fitScale(a.width, a.height, padded[0], padded[1]), fitScale(b.width, b.height, output[0], output[1])];
    const same = this.sameScale ? Math.min(...fits) : null; // one css px per cell for both: shapes compare
    return {
      input: layout(a.width, a.height, padded[0], padded[1], this.zoom, this.center, same ?? fits[0]),
      output: layout(b.width, b.height, output[0], output[1], this.zoom, this.center, same ?? fits[1]),
      sizes: { input: a, output: b },
    };
  }

  /** The current window in padded-input cells: [top, left, bottom, right) (or null). */
  windowCells(frame = this.frame) {
    if (!frame || !this.run) return null;
    const g = this.run.geometry;
    const [top, left] = [g.pads[0], g.pads[2]];
    if (frame.rows && frame.cols) {
      const rows = frame.rows.data;
      const cols = frame.cols.data;
      return [rows[0] + top, cols[0] + left, rows[rows.length - 1] + top + 1, cols[cols.length - 1] + left + 1];
    }
    const index = frame.input_index?.data ?? frame.output_index?.data.slice(1);
    if (frame.sources) {
      const data = frame.sources.data;
      return [data[0] + top, data[1] + left, data[0] + top + 1, data[1] + left + 1];
    }
    return index ? [index[0] + top, index[1] + left, index[0] + top + 1, index[1] + left + 1] : null;
  }

  /** The window's middle as [x, y] in 0..1 of the padded input, or null. */
  windowCenter() {
    const cells = this.windowCells();
    if (!cells) return null;
    const { padded } = this.shapes();
    return [(cells[1] + cells[3]) / 2 / padded[1], (cells[0] + cells[2]) / 2 / padded[0]];
  }

  /** The window's rectangle on the input canvas in css px [x, y, width, height] (for tests), or null. */
  windowRect() {
    const cells = this.windowCells();
    if (!cells) return null;
    const view = this.views().input;
    return [view.originX + cells[1] * view.scale, view.originY + cells[0] * view.scale,
      (cells[3] - cells[1]) * view.scale, (cells[2] - cells[0]) * view.scale];
  }

  /** Pan so the current window stays on screen while zoomed in: re-centred on it once it nears an edge. */
  keepInView() {
    const cells = this.windowCells();
    if (!cells) return;
    const { input: view, sizes } = this.views();
    const margin = Math.min(view.scale, sizes.input.width / 10, sizes.input.height / 10);
    const [x, y] = [view.originX + cells[1] * view.scale, view.originY + cells[0] * view.scale];
    const [w, h] = [(cells[3] - cells[1]) * view.scale, (cells[2] - cells[0]) * view.scale];
    const inside = x >= margin && y >= margin && x + w <= sizes.input.width - margin && y + h <= sizes.input.height - margin;
    if (!inside) this.center = this.windowCenter();
  }

  paint() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = 0;
      this.paintNow();
    });
  }

  paintNow(withNumbers = true) {
    if (this.pending) { // painted now: a paint scheduled for the next frame would draw the same again
      cancelAnimationFrame(this.pending);
      this.pending = 0;
    }
    if (!this.run) return;
    const views = this.views();
    if (!views.sizes.input.height || !views.sizes.output.height) return; // hidden (the chain view is shown)
    const colors = this.dark.matches ? COLORS_DARK : COLORS_LIGHT;
    const dpr = window.devicePixelRatio || 1;
    const frame = this.hover ?? this.frame;
    this.paintedIndex = frame?.index ?? null; // the step the canvases show (tests read it)
    drawInput(this.input.getContext("2d"), {
      width: views.sizes.input.width, height: views.sizes.input.height, dpr, view: views.input,
      image: this.images.input, padded: this.shapes().padded, pads: this.run.geometry.pads, frame,
      op: this.run.op, values: this.values.input, colors,
    });
    this.loupe = views.input.scale < LOUPE_BELOW ? drawLoupe(this.input.getContext("2d"), {
      width: views.sizes.input.width, height: views.sizes.input.height, view: views.input, image: this.images.input,
      padded: this.shapes().padded, pads: this.run.geometry.pads, frame, channel: this.inputChannel ?? 0,
      channelName: this.channelName(), colors,
    }) : null;
    drawOutput(this.output.getContext("2d"), {
      width: views.sizes.output.width, height: views.sizes.output.height, dpr, view: views.output,
      image: this.images.output, shape: this.run.geometry.out_shape, reveal: this.reveal ?? { kind: "none" },
      frame, values: this.values.output ?? runningSums(frame, this.channel ?? 0), colors,
    });
    this.paintThumbs(colors, dpr);
    if (withNumbers) this.fetchNumbers(views);
  }

  /** Each output map small, filled as far as the current step, the shown one marked. */
  paintThumbs(colors, dpr) {
    if (!this.thumbs.length) return;
    const [rows, cols] = this.run.geometry.out_shape;
    this.thumbs.forEach((thumb, k) => {
      thumb.button.setAttribute("aria-pressed", String(k === this.shownMap));
      const box = thumb.button.getBoundingClientRect();
      const height = Math.max(box.height - 4, 8);
      const width = Math.max(Math.min(height * cols / rows, 3 * height), 8);
      thumb.canvas.style.width = `${width}px`;
      thumb.canvas.style.height = `${height}px`;
      drawOutput(thumb.canvas.getContext("2d"), {
        width, height, dpr, view: layout(width, height, rows, cols, 1, null), image: thumb.image,
        shape: [rows, cols], reveal: this.reveals[k] ?? { kind: "all" }, frame: null, values: null, colors,
      });
    });
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
      const views = this.run ? this.views() : null;
      const start = views ? centerOf(views.input, views.sizes.input.width, views.sizes.input.height) : this.center;
      drag = { x: event.clientX, y: event.clientY, center: start, moved: false };
      canvas.setPointerCapture(event.pointerId);
    });
    canvas.addEventListener("pointermove", (event) => {
      if (drag && this.zoom > 1) {
        const view = canvas === this.input ? this.views().input : this.views().output;
        const dx = (event.clientX - drag.x) / (view.cols * view.scale);
        const dy = (event.clientY - drag.y) / (view.rows * view.scale);
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
