// The run on stage: its description in the headers and links, each frame on the stage and in the step panel,
// hovers and clicks on the stage turned into stream requests, and new settings sent to the stream (debounced).
// It holds the run and the frame shown; every number comes from the server.

import { TextFitter } from "./fit-text.js";
import { drawCalc, describeFrame } from "./render/calc.js";
import { formatNumber, groupDigits } from "./render/colors.js";
import { mapImageUrl } from "./api.js";
import { buildRequest } from "./request.js";

const REQUEST_DELAY_MS = 30; // keys typed together ("12") ask once; a click or a choice at once
const TEXT_FIELDS = "input:not([type=range], [type=checkbox], [type=radio], [type=button]), textarea";
/** Whether the user is typing in a field (so the next key may follow at once). */
const typing = (document) => Boolean(document.activeElement?.matches?.(TEXT_FIELDS));
const PARTIAL_EVERY_MS = 120; // a transposed conv's partial output, at most ~8 times a second while playing
const HOVER_DELAY_MS = 40;

export class RunView extends EventTarget {
  /**
   * @param {Document} document
   * @param {{stage: object, stream: object, palettes: object, getState: () => object, update: (patch: object) => void}} parts
   */
  constructor(document, { stage, stream, palettes, getState, update }) {
    super();
    this.document = document;
    this.$ = (id) => document.getElementById(id);
    this.stage = stage;
    this.stream = stream;
    this.palettes = palettes;
    this.getState = getState;
    this.update = update;
    this.player = null; // set by attach(): the player paints through this view
    this.run = null;
    this.frame = null;
    this.lastRequest = "";
    this.requestTimer = null;
    this.partialTimer = null;
    this.hoverTimer = null;
    this.wantedMap = null; // a map chosen whose first frame is on its way
    stage.addEventListener("pickmap", (event) => this.selectMap(event.detail));
    this.calcFitter = new TextFitter(this.$("calc-body"), { min: 9, max: 40 });
    stage.addEventListener("hovercell", (event) => this.hoverCell(event.detail));
    stage.addEventListener("pickcell", (event) => {
      const position = event.detail && this.positionOf(event.detail);
      if (!position) return;
      this.player.pause();
      stream.seekPosition(position);
    });
  }

  /** The player whose frames this view paints. */
  attach(player) {
    this.player = player;
  }

  /** The step panel's largest font (css px): larger in presentation mode. */
  setNumbersMax(px) {
    this.calcFitter.setMax(px);
  }

  /**
   * Send the state's run request to the stream: after REQUEST_DELAY_MS while a text field has the focus (the next
   * key may follow), else in this same task's wake (changes made together ask once); an unchanged request is not
   * sent again. It names the picture the page will ask for, which the server renders while "opened" travels.
   */
  requestRun() {
    clearTimeout(this.requestTimer);
    this.requestTimer = setTimeout(() => {
      const state = this.getState();
      const request = buildRequest(state);
      const text = JSON.stringify(request);
      if (request && text !== this.lastRequest) {
        this.lastRequest = text;
        this.stream.open(request, { map: Math.max(state.map, 0), mode: state.displayMode, contrast: state.contrast });
      }
    }, typing(this.document) ? REQUEST_DELAY_MS : 0);
  }

  /** A request sent for this view before it existed (boot.js' first run): the same state does not ask again. */
  alreadySent(request) {
    if (request) this.lastRequest = JSON.stringify(request);
  }

  /** Open a run the server made (a chain's layer); the next settings change asks afresh. */
  openRun(runId) {
    this.lastRequest = "";
    this.stream.openRun(runId);
  }

  /**
   * Open a run the server made at its first step, paused (a gradient or a trained layer the teacher is about to
   * step through): "open", not "set", so it starts from its own first step, not at the last run's.
   */
  openAtStart(runId) {
    this.player.pause();
    this.opening = runId;
    this.lastRequest = "";
    this.stream.send({ type: "open", run_id: runId });
  }

  /** The output map shown: the chosen one, or the current step's. */
  shownMap(state = this.getState(), current = this.frame) {
    if (!this.run) return 0;
    const maps = this.mapCount();
    const wanted = state.map >= 0 ? state.map : current?.output_index ? current.output_index.data[0] : 0;
    return Math.min(wanted, maps - 1);
  }

  mapCount() {
    return this.run.output_shape.length === 3 ? this.run.output_shape[0] : 1;
  }

  revealFor(current, map) {
    if (!current) return { kind: "none" };
    if (current.contribution) return { kind: "all" }; // a transposed conv shows its partial output whole
    const [f, row, col] = current.output_index.data;
    if (map < f) return { kind: "all" };
    if (map > f) return { kind: "none" };
    return { kind: "upto", row, col };
  }

  outputImageUrl(map, current) {
    const run = this.run;
    if (run.op === "conv_transpose2d") {
      return current ? `api/runs/${run.run_id}/partial.png?index=${current.index}&channel=${map}` : null;
    }
    const state = this.getState(); // "auto" is resolved by the server, so the picture need not wait for /display
    return mapImageUrl(run, map, state.displayMode, state.contrast);
  }

  /**
   * Show map `map` (-1: the current step's), and step through it: the window moves to the same place in that
   * map, so the Map selector, the small multiples and the step panel show the same map.
   */
  selectMap(map) {
    const frame = this.frame;
    const here = frame?.output_index && !frame.contribution ? frame.output_index.data : null;
    if (map >= 0 && here && here[0] !== map) {
      this.wantedMap = map;
      this.stream.seekPosition([map, here[1], here[2]]);
    }
    this.update({ map, ...this.filterOf(map) });
  }

  /** The kernel editor's filter for map `map`, when each map is one filter's (not depthwise, not a pool). */
  filterOf(map) {
    const state = this.getState();
    const perFilter = (state.op === "conv2d" && !state.depthwise) || state.op === "conv_transpose2d";
    return perFilter && map >= 0 && map < state.filters.length ? { filterIndex: map } : {};
  }

  /** After a frame of another map arrives (playing on, a seek), the chosen map follows it. */
  followMap(frame) {
    const state = this.getState();
    if (!frame.output_index || frame.contribution || state.map < 0) return;
    const f = frame.output_index.data[0];
    if (this.fresh) { // a run just opened on a chosen map (a chain's thumbnail, a link): step in that map
      this.fresh = false;
      if (f !== state.map && state.map < this.mapCount()) {
        const [, row, col] = frame.output_index.data;
        this.wantedMap = state.map;
        this.stream.seekPosition([state.map, row, col]);
        return;
      }
    }
    if (this.wantedMap !== null) {
      if (f === this.wantedMap) this.wantedMap = null;
      return;
    }
    if (f !== state.map) this.update({ map: f, ...this.filterOf(f) });
  }

  /** The Map selector shows the chosen map, and the stage and step panel repaint for it. */
  showMap(map) {
    this.$("map-select").value = String(map);
    this.repaint();
  }

  /** Every output map's picture, for the small multiples. */
  mapUrls(frame) {
    return Array.from({ length: this.mapCount() }, (_, k) => this.outputImageUrl(k, frame));
  }

  /** Paint a frame: the step (peek = a hovered cell's frame, shown without moving). */
  paintFrame(current, peek) {
    const state = this.getState();
    const run = this.run;
    if (!run) return;
    const $ = this.$;
    const stage = this.stage;
    if (!peek) {
      const arrived = current !== this.frame; // a new frame from the stream, not a repaint
      this.frame = current;
      this.update({ step: current.index });
      if (arrived) this.followMap(current);
    }
    const frame = this.frame;
    const map = this.shownMap(this.getState(), frame);
    stage.channel = map;
    $("download-png").href = this.outputImageUrl(map, null) ?? `${run.result_png_url}?channel=${map}`;
    stage.hover = peek ? current : null;
    if (run.op === "conv_transpose2d") {
      // the partial output changes every step: refresh it at most ~8 times a second while playing
      if (!this.partialTimer) {
        this.partialTimer = setTimeout(() => {
          this.partialTimer = null;
          if (!this.frame) return; // a new run opened meanwhile: its own first frame paints its partial output
          stage.setImage("output", this.outputImageUrl(this.shownMap(), this.frame));
          stage.setMapImages(this.mapUrls(this.frame));
        }, this.player.playing ? PARTIAL_EVERY_MS : 0);
      }
    } else {
      stage.setImage("output", this.outputImageUrl(map, frame));
      stage.setMapImages(this.mapUrls(frame));
    }
    stage.follow = state.follow;
    const maps = Array.from({ length: this.mapCount() }, (_, k) => this.revealFor(frame, k));
    stage.setFrame(frame, this.revealFor(frame, map), maps, map);
    const shown = peek ? current : frame;
    drawCalc($("calc-body"), shown, run, this.palettes, map);
    this.calcFitter.fit(`${run.run_id}:${$("calc-body").getElementsByTagName("span").length}`);
    $("calc-title").textContent = peek ? "Hovered step" : `Step ${groupDigits(shown.index + 1)}`;
    $("calc-where").textContent = describeFrame(shown);
    $("counter").textContent = `step ${groupDigits(frame.index + 1)} of ${groupDigits(run.frame_count)}`;
    if (document.activeElement !== $("scrub")) $("scrub").value = String(frame.index);
    this.dispatchEvent(new CustomEvent("frame", { detail: { frame, map } }));
  }

  /** Repaint the current frame (a new map or display chosen). */
  repaint() {
    if (this.frame) this.paintFrame(this.frame, false);
  }

  /** A run the stream opened: headers, formula, links, the map selector; then tell who listens ("run"). */
  showRun(described) {
    const state = this.getState();
    const run = { ...described, source_kind: state.source?.kind };
    const replaced = this.run?.run_id !== run.run_id;
    this.run = run;
    this.fresh = true;
    this.wantedMap = null;
    const $ = this.$;
    const g = run.geometry;
    if (replaced) { // the last run's step is not this run's: show none until this run's first frame arrives
      this.frame = null;
      $("calc-body").replaceChildren();
      $("calc-where").textContent = "";
      $("calc-title").textContent = "Step";
      $("counter").textContent = `step … of ${groupDigits(run.frame_count)}`;
    }
    $("formula-rows").textContent = run.formula.rows;
    $("formula-cols").textContent = run.formula.cols;
    $("input-title").textContent = `Input ${run.input_shape.join("×")}`;
    const pads = g.pads.some((p) => p > 0) ? ` (+ padding ${g.pads.join("/")}${run.op === "conv2d" ? `, ${state.paddingMode}` : ""})` : "";
    $("input-note").textContent = pads;
    $("output-title").textContent = `Output ${run.output_shape.join("×")}`;
    $("scrub").max = String(Math.max(run.frame_count - 1, 0));
    $("download-png").href = `${run.result_png_url}?channel=${Math.max(state.map, 0)}`;
    $("download-npy").href = run.result_npy_url;
    $("export-pytorch").href = `api/runs/${run.run_id}/export?framework=pytorch`;
    $("export-keras").href = `api/runs/${run.run_id}/export?framework=keras`;
    const difference = run.comparison?.max_difference_from_cross_correlation;
    $("flip-note").textContent = difference === undefined ? ""
      : `True convolution differs from cross-correlation by up to ${formatNumber(difference)} here.`;
    const maps = this.mapCount();
    const select = $("map-select");
    select.replaceChildren(new Option("follow the step", "-1"),
      ...Array.from({ length: maps }, (_, i) => new Option(`map ${i + 1}`, String(i))));
    select.value = String(Math.min(state.map, maps - 1));
    this.stage.setRun(run);
    this.stage.inputChannel = 0;
    // ask for the map's picture now, not after the first frame's round trip (the frame asks for the same URL)
    if (run.op !== "conv_transpose2d") this.stage.setImage("output", this.outputImageUrl(this.shownMap(state, null), null));
    if (this.opening === run.run_id) { // openAtStart: the stream seeks to the state's step next, so make it 0
      this.opening = null;
      this.update({ step: 0 });
      // a cold start plays the first run that opens: not one the teacher is about to step through
      queueMicrotask(() => { if (this.player.playing) this.player.pause(); });
    }
    this.dispatchEvent(new CustomEvent("run", { detail: run }));
  }

  hoverCell(target) {
    clearTimeout(this.hoverTimer);
    if (!target || !this.run) {
      this.stage.hover = null;
      this.repaint();
      return;
    }
    this.hoverTimer = setTimeout(() => {
      const position = this.positionOf(target);
      if (position) this.stream.peek(position);
    }, HOVER_DELAY_MS);
  }

  /** The frame a clicked cell names: an output pixel, or (transposed conv) an input pixel. */
  positionOf({ which, cell }) {
    const run = this.run;
    const g = run.geometry;
    if (run.op === "conv_transpose2d") {
      if (which !== "input") return null;
      const [r, c] = [cell[0] - g.pads[0], cell[1] - g.pads[2]];
      return r >= 0 && c >= 0 && r < g.in_shape[0] && c < g.in_shape[1] ? [r, c] : null;
    }
    if (which !== "output") return null;
    return [this.shownMap(), cell[0], cell[1]];
  }
}
