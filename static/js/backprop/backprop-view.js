// The Backprop tab: the example form (sidebar), one POST per changed example, and the steps of the pass:
// panels painted in the view, or a conv layer's dL/dW and dL/dX opened on the existing stage as runs (the same
// patch ⊙ kernel → Σ step panel). Every number comes from the server.

import { ApiError, backprop, backpropExample, openLayerRun } from "../api.js";
import { BACKPROP_LESSONS } from "../lessons.js";
import { getState, onChange, update } from "../state.js";
import { holdStatus, releaseStatus, runShapes } from "../status-view.js";
import { buildSteps } from "./steps.js";

const FETCH_DELAY_MS = 250;

export class BackpropView {
  /**
   * @param {Document} document
   * @param {{runView: object}} parts the run on stage (openAtStart, "run" events)
   */
  constructor(document, { runView }) {
    this.$ = (id) => document.getElementById(id);
    this.document = document;
    this.runView = runView;
    this.data = null;
    this.steps = [];
    this.index = 0;
    this.lastBody = "";
    this.timer = null;
    this.kernelLayers = "";
    window.kernelLensBackprop = this; // for tests: read-only
    for (let k = 0; k < 10; k += 1) this.$("bp-label").append(new Option(String(k), String(k)));
    for (const lesson of BACKPROP_LESSONS) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = lesson.title;
      button.title = lesson.text;
      button.dataset.lesson = lesson.name;
      button.addEventListener("click", () => this.openLesson(lesson));
      this.$("bp-lessons").append(button);
    }
    for (const id of ["bp-model", "bp-set", "bp-index", "bp-label", "bp-layer", "bp-filter", "bp-channel", "bp-lr"]) {
      this.$(id).addEventListener("change", () => this.schedule());
    }
    this.$("bp-example").addEventListener("change", () => {
      if (getState().lesson && BACKPROP_LESSONS.some((lesson) => lesson.name === getState().lesson)) update({ lesson: null });
      this.resetKernel();
      this.showExampleFields();
      this.schedule();
    });
    this.$("bp-model").addEventListener("change", () => this.resetKernel());
    this.$("bp-prev").addEventListener("click", () => this.go(this.index - 1));
    this.$("bp-next").addEventListener("click", () => this.go(this.index + 1));
    this.$("bp-step").addEventListener("change", () => this.go(Number(this.$("bp-step").value)));
    document.addEventListener("keydown", (event) => {
      if (getState().op !== "backprop" || event.target.closest("input, textarea, select, dialog")) return;
      if (event.key === "PageDown" || event.key === "PageUp") {
        event.preventDefault();
        this.go(this.index + (event.key === "PageDown" ? 1 : -1));
      }
    });
    runView.addEventListener("run", (event) => this.titleRun(event.detail));
    // a model trained in the Train tab, if that view announces it: offered in the Model field's list
    document.addEventListener("kernellens:trained", (event) => {
      const id = event.detail?.model_id;
      if (id && ![...this.$("bp-models").options].some((option) => option.value === id)) this.$("bp-models").append(new Option("", id));
    });
    onChange((state, changed) => {
      if (changed.has("op") || changed.has("lesson")) this.show(state);
    });
  }

  // --- the form -----------------------------------------------------------------------------------
  openLesson(lesson) {
    this.$("bp-example").value = lesson.example;
    this.$("bp-lr").value = String(lesson.learningRate ?? 0.1);
    this.resetKernel();
    this.showExampleFields();
    this.wantedStep = lesson.step ?? "forward";
    update({ op: "backprop", lesson: lesson.name });
    this.schedule(0);
  }

  resetKernel() {
    this.$("bp-layer").replaceChildren();
    this.kernelLayers = "";
    this.$("bp-filter").value = "0";
    this.$("bp-channel").value = "0";
  }

  showExampleFields() {
    this.document.querySelector(".bp-model-fields").hidden = this.$("bp-example").value !== "model";
  }

  /** The request the form describes: [model id or null, body]. */
  body() {
    const body = { learning_rate: Number(this.$("bp-lr").value) || 0.1 };
    const layer = this.$("bp-layer").value;
    if (layer !== "") {
      body.kernel = { layer: Number(layer), filter: Number(this.$("bp-filter").value) || 0,
        channel: Number(this.$("bp-channel").value) || 0 };
    }
    if (this.$("bp-example").value !== "model") return [null, body];
    const index = Number(this.$("bp-index").value) || 0;
    body[this.$("bp-set").value === "test" ? "test_index" : "validation_index"] = index;
    if (this.$("bp-label").value !== "") body.label = Number(this.$("bp-label").value);
    return [this.$("bp-model").value.trim() || "mnist-pretrained", body];
  }

  schedule(delay = FETCH_DELAY_MS) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fetch(), delay);
  }

  async fetch() {
    const [modelId, body] = this.body();
    const text = JSON.stringify([modelId, body]);
    if (text === this.lastBody && this.data) return;
    this.lastBody = text;
    this.$("bp-error").textContent = "";
    this.$("bp-count").textContent = "computing…";
    let data;
    try {
      data = modelId === null ? await backpropExample(body) : await backprop(modelId, body);
    } catch (error) {
      if (error.name === "AbortError") return;
      if (!(error instanceof ApiError)) throw error;
      this.lastBody = "";
      this.$("bp-error").textContent = error.message;
      this.$("bp-count").textContent = "";
      this.say(error.message, true);
      return;
    }
    this.data = data;
    this.fillKernelLayers(data);
    const keep = this.wantedStep ?? this.steps[this.index]?.id;
    this.wantedStep = null;
    this.steps = buildSteps(data, { openForward: (layer) => this.openForward(layer), openRun: (link) => this.openLink(link) });
    const found = this.steps.findIndex((step) => step.id === keep);
    this.$("bp-step").replaceChildren(...this.steps.map((step, k) => new Option(`${k + 1}. ${step.title}`, String(k))));
    this.go(found >= 0 ? found : 0, true);
  }

  fillKernelLayers(data) {
    const convs = data.layers.filter((layer) => layer.type === "conv2d");
    const key = convs.map((layer) => layer.index).join(",");
    if (key === this.kernelLayers) return;
    this.kernelLayers = key;
    const select = this.$("bp-layer");
    select.replaceChildren(...convs.map((layer) => new Option(`${layer.name} (${layer.index + 1})`, String(layer.index))));
    if (data.step) select.value = String(data.step.layer);
  }

  // --- the steps ----------------------------------------------------------------------------------
  /** Show step k: its panel, or its run on the stage. */
  go(k, fresh = false) {
    if (!this.steps.length) return;
    const index = Math.min(Math.max(k, 0), this.steps.length - 1);
    if (index === this.index && !fresh) return;
    this.index = index;
    const step = this.steps[index];
    this.$("bp-step").value = String(index);
    this.$("bp-count").textContent = `step ${index + 1} of ${this.steps.length}`;
    this.$("bp-prev").disabled = index === 0;
    this.$("bp-next").disabled = index === this.steps.length - 1;
    this.$("bp-explain").textContent = step.explain;
    const panel = this.$("bp-panel");
    if (step.run) {
      panel.replaceChildren();
      this.onStage = { ...step, what: step.title };
      this.setMode("stage");
      this.openOnStage(step.run.run_id);
    } else {
      this.onStage = null;
      panel.replaceChildren(step.panel());
      this.setMode("panel");
    }
    this.describe();
  }

  async openForward(layer) {
    try {
      const described = await openLayerRun(layer.run_url);
      this.onStage = { run: { run_id: described.run_id }, titles: [`${layer.name}'s input`, `${layer.name}'s output z`],
        what: `${layer.name}'s forward pass` };
      this.$("bp-explain").textContent = `${layer.name}'s forward pass: each step is patch ⊙ kernel → Σ + bias. Back or` +
        " Next returns to the pass.";
      this.setMode("stage");
      this.describe();
      this.openOnStage(described.run_id);
    } catch (error) {
      if (error.name !== "AbortError") this.say(error.message, true);
    }
  }

  openLink(link) {
    this.onStage = { run: link, titles: null, what: `${this.steps[this.index]?.layer?.name ?? "the layer"}'s forward pass` };
    this.setMode("stage");
    this.describe();
    this.openOnStage(link.run_id);
  }

  /** Open a run on the stage at its first step, paused. */
  openOnStage(runId) {
    this.runView.openAtStart(runId);
  }

  /** The stage's headers name what the run's numbers are (once the run is open). */
  titleRun(run) {
    const step = this.onStage;
    if (getState().op !== "backprop" || step?.run.run_id !== run.run_id) return;
    this.describe();
    if (!step.titles) return;
    this.$("input-title").textContent = step.titles[0];
    this.$("output-title").textContent = step.titles[1];
  }

  /**
   * The header's status line says what this tab shows (not the operation tabs' run behind it): the example, the
   * step, and the shapes of its layer, or of the run on the stage once it is open.
   */
  describe() {
    if (getState().op !== "backprop") return;
    const data = this.data;
    if (!data) {
      this.say("Backprop: computing the example's forward and backward pass…");
      return;
    }
    const step = this.steps[this.index];
    const where = `Backprop step ${this.index + 1} of ${this.steps.length}`;
    const run = this.runView.run;
    if (this.mode === "stage" && this.onStage) {
      this.say(run?.run_id === this.onStage.run.run_id
        ? `${where} (stage): ${run.op} ${runShapes(run)}`
        : `${where}: opening ${this.onStage.what} on the stage…`);
    } else if (step.layer) {
      this.say(`${where}: ${step.layer.name}, ${step.layer.type} ${step.layer.input_shape.join("×")} → ` +
        `${step.layer.output_shape.join("×")}`);
    } else {
      this.say(`${where}: ${step.title} · ${data.model_id ?? "the 5×5 example"}, label ${data.label}, ` +
        `loss ${data.loss.toPrecision(4)}`);
    }
  }

  /** Hold the header's status line with `message` while this tab is open. */
  say(message, isError = false) {
    if (getState().op === "backprop") holdStatus("backprop", message, isError);
  }

  setMode(mode) {
    this.mode = mode;
    const on = getState().op === "backprop";
    this.document.body.classList.toggle("bp-panel-mode", on && mode === "panel");
    this.document.body.classList.toggle("bp-stage-mode", on && mode === "stage");
  }

  /** Follow the tab and the lesson: show or hide the view, the lesson text; compute on first showing. */
  show(state) {
    const on = state.op === "backprop";
    this.$("backprop-view").hidden = !on;
    this.document.body.classList.toggle("backprop-mode", on);
    const lesson = BACKPROP_LESSONS.find((item) => item.name === state.lesson) ?? null;
    this.$("bp-lesson").hidden = !lesson;
    if (lesson) {
      this.$("bp-lesson-title").textContent = lesson.title;
      this.$("bp-lesson-text").textContent = lesson.text;
      if (on && this.$("bp-example").value !== lesson.example) this.openLesson(lesson);
    }
    for (const button of this.$("bp-lessons").children) {
      button.setAttribute("aria-pressed", String(button.dataset.lesson === state.lesson));
    }
    this.setMode(this.mode ?? "panel");
    if (!on) {
      releaseStatus("backprop");
      return;
    }
    this.describe();
    this.showExampleFields();
    if (!this.data) this.schedule(0);
    else if (this.onStage) this.openOnStage(this.onStage.run.run_id);
  }
}
