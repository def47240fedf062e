// The Layers view: the chain editor, the chain on the stage (one POST per changed chain), the lesson buttons,
// and a chain layer opened on the stage to step through.

import { ApiError, checkMatrix, openLayerRun, runChain } from "./api.js";
import { drawChainEditor, drawChainStage } from "./chain-view.js";
import { LESSONS, withLessonWeights } from "./lessons.js";
import { buildChainRequest } from "./request.js";
import { status } from "./status-view.js";
import { groupDigits } from "./render/colors.js";

export class LayersView {
  /**
   * @param {Document} document
   * @param {{runView: object, player: object, sources: object, getState: () => object,
   *   update: (patch: object) => void}} parts
   */
  constructor(document, { runView, player, sources, getState, update }) {
    this.$ = (id) => document.getElementById(id);
    this.runView = runView;
    this.getState = getState;
    this.update = update;
    this.chain = null;
    this.lastChain = "";
    this.pendingStep = null; // a lesson's step, sought once its layer is open
    for (const lesson of LESSONS) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = lesson.title;
      button.title = lesson.text;
      button.dataset.lesson = lesson.name;
      button.addEventListener("click", () => this.openLesson(lesson, sources));
      this.$("lessons").append(button);
    }
    this.$("back-to-chain").addEventListener("click", () => { player.pause(); update({ openLayer: -1 }); });
  }

  openLesson(lesson, sources) {
    const sample = lesson.source.kind === "sample" ? sources.named(lesson.source.name) : null;
    this.pendingStep = lesson.open ? lesson.open.step : null;
    const source = sample ? sources.sourceOf(sample) : lesson.source;
    sources.show(source);
    this.update({
      op: "layers", source, color: lesson.color ?? "rgb", chainLayers: lesson.layers, chainSeed: 0,
      lesson: lesson.name, openLayer: lesson.open ? lesson.open.layer : -1, map: -1,
    });
  }

  /** The step a lesson asked for (once), or null. */
  takePendingStep() {
    const step = this.pendingStep;
    this.pendingStep = null;
    return step;
  }

  /** Follow a state change: the editor, the lesson marks, the chain or the layer opened on the stage. */
  changed(state, changed, chainChanged) {
    if (changed.has("chainLayers") || changed.has("op")) {
      drawChainEditor(this.$("chain-editor"), state.chainLayers, (layers) => this.update({ chainLayers: layers, lesson: null }));
    }
    if (changed.has("lesson") || changed.has("op")) this.markLesson(state.lesson);
    if (state.op !== "layers") return;
    if (chainChanged) this.refreshChain();
    else if (changed.has("openLayer") && state.openLayer >= 0) this.showLayer(state.openLayer);
  }

  lessonNamed(name) {
    return LESSONS.find((lesson) => lesson.name === name) ?? null;
  }

  markLesson(name) {
    for (const button of this.$("lessons").children) button.setAttribute("aria-pressed", String(button.dataset.lesson === name));
  }

  async refreshChain() {
    const state = this.getState();
    const request = withLessonWeights(buildChainRequest(state), this.lessonNamed(state.lesson));
    const text = JSON.stringify(request);
    if (!request) return;
    if (text === this.lastChain && this.chain) {
      if (state.openLayer >= 0) this.showLayer(state.openLayer);
      return;
    }
    this.lastChain = text;
    this.chain = null;
    const openOnStage = (index, map) => this.update({ openLayer: index, map });
    drawChainStage(this.$("chain-view"), null, this.lessonNamed(state.lesson), openOnStage);
    let chain;
    try {
      chain = await runChain(request);
    } catch (error) {
      if (error.name === "AbortError") return;
      if (!(error instanceof ApiError)) throw error;
      status(error.message, true);
      return;
    }
    this.chain = chain;
    const inputUrl = await this.inputPicture(state.source, state.color);
    if (this.lastChain !== text) return; // a newer chain was asked for meanwhile
    drawChainStage(this.$("chain-view"), chain, this.lessonNamed(this.getState().lesson), openOnStage, inputUrl);
    status(`chain of ${chain.layers.length} layers: ${groupDigits(chain.total_params)} parameters`);
    if (this.getState().openLayer >= 0) this.showLayer(this.getState().openLayer);
  }

  /** The URL of the chain's input picture: a stored image's, or (a typed matrix) the server's drawing of it. */
  async inputPicture(source, color) {
    if (source.kind !== "matrix") return `api/images/${source.imageId}.png?color=${color}`;
    try {
      return (await checkMatrix(source.text)).input_png_url;
    } catch (error) {
      if (error.name !== "AbortError" && !(error instanceof ApiError)) throw error;
      return null; // the chain itself reports a bad matrix
    }
  }

  /** The state as the caption reads it: with a chain layer open, that layer's kernels are the ones stepped. */
  captionState(state) {
    const layer = state.op === "layers" && state.openLayer >= 0 ? state.chainLayers[state.openLayer] : null;
    if (!layer || !Array.isArray(layer.filters)) return state;
    const filters = layer.filters.map((item) => ({ kernel: typeof item === "string" ? { name: item } : { values: item } }));
    return { ...state, filters, filterIndex: Math.min(Math.max(state.map, 0), filters.length - 1) };
  }

  /** The caption: what the stage does now, and with a lesson's layer open, the lesson's point beside it. */
  showCaption(element, sentence) {
    const state = this.getState();
    const lesson = state.op === "layers" && state.openLayer >= 0 ? this.lessonNamed(state.lesson) : null;
    element.classList.toggle("with-lesson", Boolean(lesson));
    if (!lesson) {
      element.textContent = sentence;
      return;
    }
    const title = document.createElement("strong");
    title.textContent = `${lesson.title}. `;
    const now = document.createElement("span");
    now.className = "caption-now";
    now.textContent = sentence;
    element.replaceChildren(title, lesson.text, document.createElement("br"), now);
  }

  async showLayer(index) {
    const layer = this.chain?.layers[index];
    if (!layer) return;
    if (!layer.run_url) {
      status(`${layer.name} has no steps to show: it reshapes or mixes everything`, true);
      this.update({ openLayer: -1 });
      return;
    }
    try {
      const described = await openLayerRun(layer.run_url);
      this.runView.openRun(described.run_id);
    } catch (error) {
      if (error.name !== "AbortError") status(error.message, true);
    }
  }
}
