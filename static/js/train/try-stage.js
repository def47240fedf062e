// A Try-it layer on the stage: the existing stepper (patch ⊙ kernel → Σ + bias, the transport, the step panel)
// with the model's learned kernels on the digit just tried. The server made the run (the chain's layer run);
// this module only opens it, shows the bar above the stage and takes the page back to Try it.

import { ApiError, openLayerRun } from "../api.js";
import { getState, onChange } from "../state.js";
import { holdStatus, runShapes } from "../status-view.js";
import { relative } from "./train-api.js";

export class TryStage {
  /**
   * @param {Document} document
   * @param {object} runView the run on stage (openAtStart, "run" events)
   * @param {() => void} onLeave gives the header's status line back to the training once the stage is left
   */
  constructor(document, runView, onLeave) {
    this.$ = (id) => document.getElementById(id);
    this.document = document;
    this.runView = runView;
    this.onLeave = onLeave;
    this.on = false;
    this.what = "";
    this.runId = null;
    runView.addEventListener("run", (event) => this.describe(event.detail));
    this.$("train-stage-back").addEventListener("click", () => this.leave());
    document.addEventListener("keydown", (event) => {
      if (this.on && event.key === "Escape" && !event.target.closest("dialog")) this.leave();
    });
    onChange((state, changed) => {
      if (changed.has("op") && state.op !== "train") this.leave();
    });
  }

  /**
   * Open `layer` (a described chain layer with a run_url) of the model `modelName` on the stage.
   * @returns {Promise<boolean>} whether it opened
   */
  async open(layer, modelName, digitName) {
    let described;
    try {
      described = await openLayerRun(relative(layer.run_url));
    } catch (error) {
      if (error.name === "AbortError") return false;
      if (!(error instanceof ApiError)) throw error;
      if (getState().op === "train") holdStatus("train", error.message, true);
      return false;
    }
    if (getState().op !== "train") return false; // the tab changed meanwhile
    const kernels = layer.type === "conv2d" ? "its learned kernels" : "its windows";
    this.$("train-stage-title").textContent = `${layer.name} of ${modelName} on ${digitName}: ${kernels}, step by ` +
      `step (${layer.output_shape.join("×")} out). Step with the arrow keys or press Play; the Map menu picks the filter.`;
    this.what = `Try it: ${layer.name} of ${modelName} on ${digitName}`;
    this.runId = described.run_id;
    this.show(true);
    holdStatus("train", `${this.what} · opening on the stage…`);
    this.runView.openAtStart(described.run_id);
    return true;
  }

  leave() {
    if (!this.on) return;
    this.runView.player.pause(); // the stage goes out of sight: it stops streaming
    this.show(false);
    this.onLeave();
  }

  /** The header's status line names the layer tried and the run's shapes, once its run is open. */
  describe(run) {
    if (!this.on || getState().op !== "train" || run.run_id !== this.runId) return;
    holdStatus("train", `${this.what} · ${run.op} ${runShapes(run)}`);
  }

  show(on) {
    this.on = on;
    this.$("train-stage-bar").hidden = !on;
    this.document.body.classList.toggle("train-stage-mode", on);
    if (!on && getState().op === "train") this.$("train-show-try").focus();
  }
}
