// The Train tab: the form (config <-> inputs <-> the URL's query), the model summary (from the server,
// debounced), the training stream painted as it arrives (progress, curves, filters, confusion, wrong digits),
// lessons, and "Try it". Everything shown is the server's numbers; repaints are coalesced per animation frame.

import { ApiError } from "../api.js";
import { formatNumber, groupDigits } from "../render/colors.js";
import { getState, onChange, update } from "../state.js";
import { holdStatus, releaseStatus } from "../status-view.js";
import { drawConfusion, drawWrong } from "./confusion.js";
import { chartFont, Curves } from "./curves.js";
import { drawKernels, drawScale } from "./filters.js";
import { relative, trainSummary } from "./train-api.js";
import { TRAIN_LESSONS } from "./train-lessons.js";
import { TrainStream } from "./train-stream.js";
import { TryStage } from "./try-stage.js";
import { PRETRAINED, TryView } from "./try-view.js";

/** The course's defaults (Keras' MNIST example: RMSprop, batch 128, 5 epochs, validation split 0.2). */
export const TRAIN_DEFAULTS = Object.freeze({
  model: "cnn_1", train_size: 1000, epochs: 5, batch_size: 128, optimizer: "rmsprop", learning_rate: 0.001,
  dropout: 0, batch_norm: false, shift: 0, rotate: 0, noise: 0, early_stopping: false, patience: 5,
  validation_split: 0.2, seed: 0,
});
const NUMBERS = ["train_size", "epochs", "batch_size", "learning_rate", "dropout", "shift", "rotate", "noise", "patience",
  "validation_split", "seed"];
const INPUTS = { model: "train-model", train_size: "train-size", epochs: "train-epochs", batch_size: "train-batch-size",
  optimizer: "train-optimizer", learning_rate: "train-learning-rate", dropout: "train-dropout",
  batch_norm: "train-batch-norm", shift: "train-shift", rotate: "train-rotate", noise: "train-noise",
  early_stopping: "train-early-stopping", patience: "train-patience", validation_split: "train-validation-split",
  seed: "train-seed" };
/** Which control a refusal belongs to, by the argument its message starts with. */
const ERROR_FIELDS = [
  [/^(request: )?give layers|^layers|^the last layer|^the model has|^model/, "train-model"],
  [/^train_size/, "train-size"], [/^epochs/, "train-epochs"], [/^batch_size/, "train-batch-size"],
  [/^optimizer/, "train-optimizer"], [/^learning_rate/, "train-learning-rate"], [/^dropout/, "train-dropout"],
  [/^batch_norm/, "train-batch-norm"], [/^augment/, "train-augment"], [/^early_stopping/, "train-early-row"],
  [/^validation_split/, "train-validation-split"], [/^seed/, "train-seed"],
];

function node(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  Object.assign(element, props);
  element.append(...children);
  return element;
}

/** The form's values as the server's TrainConfig (custom: the Layers tab's chain). */
export function toConfig(form, chainLayers) {
  const augment = {};
  for (const key of ["shift", "rotate", "noise"]) if (form[key]) augment[key] = form[key];
  const config = {
    model: form.model, train_size: form.train_size, epochs: form.epochs, batch_size: form.batch_size,
    optimizer: form.optimizer, learning_rate: form.learning_rate, dropout: form.dropout, batch_norm: form.batch_norm,
    augment: Object.keys(augment).length ? augment : null,
    early_stopping: form.early_stopping ? { patience: form.patience, restore_best_weights: true } : null,
    validation_split: form.validation_split, seed: form.seed,
  };
  if (form.model === "custom") config.layers = chainLayers;
  return config;
}

/** A lesson's (or a server's) TrainConfig as form values. */
function fromConfig(config) {
  return {
    ...TRAIN_DEFAULTS, ...config, shift: config.augment?.shift ?? 0, rotate: config.augment?.rotate ?? 0,
    noise: config.augment?.noise ?? 0, early_stopping: Boolean(config.early_stopping),
    patience: config.early_stopping?.patience ?? TRAIN_DEFAULTS.patience,
  };
}

/** The form as the URL's query (only what differs from the defaults); the weights are never in it. */
function toQuery(form) {
  const params = new URLSearchParams(location.search);
  for (const key of Object.keys(TRAIN_DEFAULTS)) {
    if (form[key] === TRAIN_DEFAULTS[key]) params.delete(key);
    else params.set(key, String(form[key]));
  }
  return params;
}

function fromQuery(search) {
  const params = new URLSearchParams(search);
  const form = { ...TRAIN_DEFAULTS };
  for (const key of Object.keys(TRAIN_DEFAULTS)) {
    if (!params.has(key)) continue;
    const text = params.get(key);
    if (typeof TRAIN_DEFAULTS[key] === "boolean") form[key] = text === "true";
    else if (NUMBERS.includes(key)) form[key] = Number.isFinite(Number(text)) && text.trim() !== "" ? Number(text) : TRAIN_DEFAULTS[key];
    else form[key] = text;
  }
  return form;
}

export class TrainView {
  /**
   * @param {Document} document
   * @param {object} initial the page's initial data (palettes, the kernel catalogue)
   * @param {object} runView the run on stage, where Try it opens a layer
   */
  constructor(document, initial, runView) {
    const $ = (id) => document.getElementById(id);
    this.$ = $;
    this.palettes = initial.palettes;
    this.form = fromQuery(location.search);
    this.stream = new TrainStream();
    this.job = null; // {jobId, modelId, epochs, from, state: "queued" | "running" | "paused"}
    this.modelId = null; // the last trained model
    this.epochOffset = 0; // epochs trained before this job (training more from the same weights)
    this.lastConfig = null;
    this.lesson = null;
    this.runs = [];
    this.pendingProgress = null;
    this.pendingEpoch = null;
    this.frame = 0;
    this.summaryTimer = null;
    this.retryTimer = null;
    this.probe = { delays: [], progress: 0, epochs: 0, filterPaints: 0, lastFinal: null }; // tests and benchmarks
    window.kernelLensTrain = this.probe;
    const painted = (delays) => this.probe.delays.push(...delays);
    this.loss = new Curves($("train-loss"), { painted });
    this.accuracy = new Curves($("train-accuracy"), { percent: true });
    this.probe.curves = { loss: this.loss, accuracy: this.accuracy };
    this.tryStage = new TryStage(document, runView, () => this.describe());
    this.tryView = new TryView(document, this.tryStage);
    this.showForm();
    this.bindForm();
    this.bindStream();
    this.bindButtons();
    this.drawLessons();
    this.drawSobel(initial.kernels);
    this.showView(getState());
    onChange((state, changed) => {
      if (changed.has("op")) this.showView(state);
      if (changed.has("chainLayers") && this.form.model === "custom") this.refreshSummary();
    });
  }

  // --- visibility ------------------------------------------------------------------------------
  showView(state) {
    const on = state.op === "train";
    this.$("train-view").hidden = !on;
    document.body.classList.toggle("train-mode", on);
    if (!on) releaseStatus("train");
    if (on) {
      this.describe();
      this.refreshSummary();
      this.loss.schedule();
      this.accuracy.schedule();
    }
  }

  showPart(part) {
    const watch = part === "watch";
    this.$("train-watch").hidden = !watch;
    this.$("train-try").hidden = watch;
    this.$("train-show-watch").setAttribute("aria-pressed", String(watch));
    this.$("train-show-try").setAttribute("aria-pressed", String(!watch));
    if (watch) { this.loss.schedule(); this.accuracy.schedule(); }
  }

  // --- the form --------------------------------------------------------------------------------
  showForm() {
    for (const [key, id] of Object.entries(INPUTS)) {
      const input = this.$(id);
      if (input.type === "checkbox") input.checked = Boolean(this.form[key]);
      else input.value = String(this.form[key]);
    }
    this.$("train-patience").disabled = !this.form.early_stopping;
  }

  bindForm() {
    for (const [key, id] of Object.entries(INPUTS)) {
      const input = this.$(id);
      input.addEventListener(input.type === "checkbox" || input.tagName === "SELECT" ? "change" : "input", () => {
        let value = input.type === "checkbox" ? input.checked : input.value;
        if (NUMBERS.includes(key)) {
          if (input.value.trim() === "" || !Number.isFinite(Number(input.value))) {
            this.fieldError(id, `${key} must be a number`);
            return;
          }
          value = Number(input.value);
        }
        this.setForm({ [key]: value }, id);
      });
    }
    this.$("train-form").addEventListener("submit", (event) => event.preventDefault());
  }

  /** Change form values: the URL follows, the summary is asked for again. */
  setForm(patch, changedId = null) {
    this.form = { ...this.form, ...patch };
    this.$("train-patience").disabled = !this.form.early_stopping;
    this.changedId = changedId;
    history.replaceState(null, "", `${location.pathname}${toQuery(this.form).size ? `?${toQuery(this.form)}` : ""}${location.hash}`);
    this.refreshSummary();
  }

  config() {
    return toConfig(this.form, getState().chainLayers);
  }

  refreshSummary() {
    clearTimeout(this.summaryTimer);
    this.summaryTimer = setTimeout(() => this.askSummary(), 200);
  }

  async askSummary() {
    const config = this.config();
    try {
      const summary = await trainSummary(config);
      this.clearFieldErrors();
      this.drawSummary(summary);
      if (!this.job && this.loss.count === 0) { // empty curves show the epochs asked for
        this.loss.setEpochs(this.form.epochs);
        this.accuracy.setEpochs(this.form.epochs);
      }
    } catch (error) {
      if (error.name === "AbortError") return;
      if (!(error instanceof ApiError)) throw error;
      this.fieldError(this.fieldFor(error.message), error.message);
    }
  }

  fieldFor(message) {
    const match = ERROR_FIELDS.find(([pattern]) => pattern.test(message));
    return match ? match[1] : this.changedId ?? "train-model";
  }

  clearFieldErrors() {
    for (const note of document.querySelectorAll(".train-field-error")) note.remove();
    for (const input of this.$("train-form").querySelectorAll("[aria-invalid=true]")) input.removeAttribute("aria-invalid");
    this.$("train-start").disabled = Boolean(this.job);
  }

  /** A refusal in full, next to the control it is about; Train waits until the form is valid. */
  fieldError(id, message) {
    this.clearFieldErrors();
    const control = this.$(id) ?? this.$("train-model");
    const input = control.matches("input, select") ? control : control.querySelector("input, select");
    input?.setAttribute("aria-invalid", "true");
    const note = node("p", { className: "error train-field-error", role: "alert", textContent: message });
    (control.matches("input, select") ? control.closest(".row, label") : control).after(note);
    this.$("train-start").disabled = true;
  }

  drawSummary(summary) {
    const table = node("table", { className: "summary train-summary-table" },
      node("thead", {}, node("tr", {}, ...["Layer", "Output shape", "Params"].map((text) => node("th", { textContent: text })))),
      node("tbody", {}, ...summary.summary.map((row) => node("tr", {}, node("td", { textContent: row.layer }),
        node("td", { textContent: `(${row.output_shape.join(", ")})` }), node("td", { textContent: groupDigits(row.params) })))),
      node("tfoot", {}, node("tr", {}, node("td", { textContent: "Total" }), node("td"),
        node("td", { textContent: groupDigits(summary.total_params) }))));
    const split = node("p", { className: "hint", textContent: `${groupDigits(summary.train_size)} digits to train on, `
      + `${groupDigits(summary.validation_size)} held out; ${groupDigits(summary.batches)} batches per epoch` });
    this.$("train-summary").replaceChildren(table, split);
    this.summary = summary;
  }

  // --- lessons ---------------------------------------------------------------------------------
  drawLessons() {
    for (const lesson of TRAIN_LESSONS) {
      const button = node("button", { type: "button", textContent: lesson.title, title: lesson.text });
      button.dataset.lesson = lesson.name;
      button.addEventListener("click", () => this.openLesson(lesson));
      this.$("train-lessons").append(button);
    }
  }

  openLesson(lesson) {
    this.lesson = lesson;
    for (const button of this.$("train-lessons").children) button.setAttribute("aria-pressed", String(button.dataset.lesson === lesson.name));
    this.$("train-lesson").hidden = false;
    this.$("train-lesson-title").textContent = lesson.title;
    this.$("train-lesson-text").textContent = lesson.text;
    this.form = fromConfig(lesson.config);
    this.showForm();
    this.setForm({});
    this.showPart("watch");
    if (lesson.start !== false) this.start("scratch");
  }

  // --- the buttons -----------------------------------------------------------------------------
  bindButtons() {
    const $ = this.$;
    $("train-start").addEventListener("click", () => this.start("scratch"));
    $("train-continue").addEventListener("click", () => this.start("current"));
    $("train-pause").addEventListener("click", () => {
      if (!this.job) return;
      this.stream.send({ type: this.job.state === "paused" ? "resume" : "pause" });
      $("train-pause").disabled = true; // until the server says paused / resumed
    });
    $("train-stop").addEventListener("click", () => { if (this.job) this.stream.send({ type: "stop" }); });
    $("train-show-watch").addEventListener("click", () => this.showPart("watch"));
    $("train-show-try").addEventListener("click", () => this.showPart("try"));
  }

  start(from) {
    if (this.job) {
      this.status("A job is already running: stop it first.", true);
      return;
    }
    clearInterval(this.retryTimer);
    const config = this.config();
    this.lastConfig = config;
    this.job = { from, state: "asking", epochs: config.epochs };
    this.stream.send(from === "current" ? { type: "start", config, from } : { type: "start", config });
    this.status("Starting…");
    this.buttons();
  }

  buttons() {
    const $ = this.$;
    const state = this.job?.state ?? null;
    $("train-start").disabled = Boolean(this.job) || Boolean(document.querySelector(".train-field-error"));
    $("train-continue").disabled = Boolean(this.job) || !this.modelId;
    $("train-pause").disabled = state !== "running" && state !== "paused";
    $("train-pause").textContent = state === "paused" ? "Resume" : "Pause";
    $("train-stop").disabled = !this.job || state === "asking";
    for (const input of $("train-form").querySelectorAll("input, select")) input.disabled = Boolean(this.job);
    if (!this.job) $("train-patience").disabled = !this.form.early_stopping;
  }

  status(message, isError = false) {
    this.$("train-status").textContent = message;
    this.$("train-status").classList.toggle("error-state", isError);
    this.describe();
  }

  /** The header's status line says what this tab shows: the training's own line (not the stage's run behind it). */
  describe() {
    if (getState().op !== "train" || this.tryStage?.on) return; // a layer tried on the stage says what it is itself
    const line = this.$("train-status");
    holdStatus("train", `Train: ${line.textContent}`, line.classList.contains("error-state"));
  }

  // --- the stream ------------------------------------------------------------------------------
  bindStream() {
    const on = (type, handler) => this.stream.addEventListener(type, (event) => handler(event.detail));
    on("queued", (m) => {
      this.job = { ...this.job, jobId: m.job_id, state: "queued" };
      this.status(`Waiting for a free training slot: number ${m.position} in the queue.`);
      this.buttons();
    });
    on("started", (m) => this.started(m));
    on("progress", (m) => {
      if (!this.job || m.job_id !== this.job.jobId) return;
      this.probe.progress += 1;
      const x = this.epochOffset + m.epoch + (m.batch + 1) / m.batches;
      const sentAt = typeof m.sent_at === "number" ? m.sent_at * 1000 : null;
      this.loss.addTrain(x, m.loss, sentAt);
      this.accuracy.addTrain(x, m.accuracy);
      if (m.filters) this.pendingFilters = { filters: m.filters, label: `epoch ${m.epoch + 1}, batch ${m.batch + 1}` };
      this.pendingProgress = m;
      this.schedule();
    });
    on("epoch", (m) => {
      if (!this.job || m.job_id !== this.job.jobId) return;
      this.probe.epochs += 1;
      const x = this.epochOffset + m.epoch + 1;
      if (m.logs.val_loss !== undefined) this.loss.addVal(x, m.logs.val_loss);
      if (m.logs.val_accuracy !== undefined) this.accuracy.addVal(x, m.logs.val_accuracy);
      this.pendingEpoch = m;
      if (m.filters) this.pendingFilters = { filters: m.filters, label: `end of epoch ${x}` }; // labelled now: the job may end before the repaint
      this.schedule();
    });
    on("paused", () => { if (this.job) { this.job.state = "paused"; this.status(`${this.$("train-status").textContent.replace(/ · paused$/, "")} · paused`); this.buttons(); } });
    on("resumed", () => { if (this.job) { this.job.state = "running"; this.buttons(); } });
    on("done", (m) => this.finished(m));
    on("stopped", (m) => this.finished(m));
    on("error", (m) => this.refused(m));
    on("closed", () => {
      if (!this.job) return;
      this.flush();
      this.job = null;
      this.status("The connection to the server was lost: the training stopped. Press Train to start again.", true);
      this.buttons();
    });
  }

  started(m) {
    this.job = { ...this.job, jobId: m.job_id, modelId: m.model_id, state: "running", epochs: m.config.epochs };
    if (m.from !== "current") {
      this.probe.firstFilters = null;
      this.epochOffset = 0;
      this.loss.reset(m.config.epochs);
      this.accuracy.reset(m.config.epochs);
      this.$("train-filters").replaceChildren();
      this.$("train-confusion").replaceChildren();
      this.$("train-wrong").replaceChildren();
    } else {
      this.loss.setEpochs(this.epochOffset + m.config.epochs);
      this.accuracy.setEpochs(this.epochOffset + m.config.epochs);
    }
    this.drawSummary(m);
    this.validationSize = m.validation_size;
    this.$("train-bar").style.width = "0%";
    this.status(`Training ${groupDigits(m.total_params)} parameters on ${groupDigits(m.train_size)} digits `
      + `(${groupDigits(m.validation_size)} held out)…`);
    this.buttons();
  }

  finished(m) {
    if (!this.job || (this.job.jobId && m.job_id !== this.job.jobId)) return;
    this.flush();
    const job = this.job;
    this.job = null;
    this.probe.lastFinal = m;
    if (m.model_id) {
      this.modelId = m.model_id;
      this.epochOffset += m.epochs_run;
      const history = m.history;
      const last = (key) => (history[key]?.length ? history[key].at(-1) : null);
      const percent = (value) => (value === null ? "–" : `${(value * 100).toFixed(1)}%`);
      const why = { finished: "Done", "early stopping": "Stopped early (validation loss stopped improving)",
        stopped: "Stopped", "time limit": "Stopped at the server's time limit", closed: "Stopped" }[m.reason] ?? m.reason;
      const best = m.best_epoch !== null && m.best_epoch !== undefined && m.reason === "early stopping"
        ? `; weights of epoch ${m.best_epoch + 1} kept` : "";
      this.status(`${why} after ${m.epochs_run} epoch${m.epochs_run === 1 ? "" : "s"} in ${m.seconds.toFixed(1)} s: `
        + `training accuracy ${percent(last("accuracy"))}, validation ${percent(last("val_accuracy"))}${best}.`);
      this.$("train-bar").style.width = "100%";
      this.addRun(m, job);
      this.links(m);
      this.tryView.setModel(m.model_id, this.validationSize);
      // the Backprop tab offers the model just trained (it listens for this)
      document.dispatchEvent(new CustomEvent("kernellens:trained", { detail: { model_id: m.model_id } }));
    } else {
      this.status("Stopped before it started (it was waiting in the queue).");
    }
    this.buttons();
  }

  refused(m) {
    this.flush();
    const wasStarting = this.job && !this.job.jobId;
    if (m.job_id || wasStarting) this.job = null;
    if (m.status === 429) {
      let wait = m.retry_after ?? 1;
      const say = () => this.status(`Busy: ${m.detail}. Train is possible again in ${wait} s.`, true);
      say();
      this.retryTimer = setInterval(() => {
        wait -= 1;
        if (wait <= 0) {
          clearInterval(this.retryTimer);
          this.status("The server may have a free slot now: press Train.");
        } else say();
      }, 1000);
    } else if (m.status === 422 && wasStarting && !m.job_id) {
      this.fieldError(this.fieldFor(m.detail), m.detail);
      this.status(`Refused: ${m.detail}`, true);
    } else {
      this.status(m.detail, true);
    }
    this.buttons();
  }

  addRun(m, job) {
    const config = this.lastConfig;
    const remedies = [config.dropout ? `dropout ${config.dropout}` : "", config.batch_norm ? "batch norm" : "",
      config.augment ? "augment" : "", config.early_stopping ? "early stop" : ""].filter(Boolean).join(", ") || "none";
    const last = (key) => (m.history[key]?.length ? `${(m.history[key].at(-1) * 100).toFixed(1)}%` : "–");
    this.runs.unshift([`${config.model}${job.from === "current" ? " (more)" : ""}`, groupDigits(config.train_size),
      String(m.epochs_run), remedies, last("accuracy"), last("val_accuracy")]);
    this.runs.length = Math.min(this.runs.length, 4);
    const table = node("table", { className: "train-runs" },
      node("thead", {}, node("tr", {}, ...["network", "digits", "epochs", "remedies", "train acc.", "val. acc."].map(
        (text) => node("th", { textContent: text })))),
      node("tbody", {}, ...this.runs.map((row) => node("tr", {}, ...row.map((text) => node("td", { textContent: text }))))));
    this.$("train-runs").replaceChildren(table);
  }

  links(m) {
    const $ = this.$;
    const set = (id, url) => { $(id).href = url; $(id).hidden = false; };
    set("train-download", relative(m.weights_url));
    set("train-export-pytorch", `api/train/${m.model_id}/export?framework=pytorch`);
    set("train-export-keras", `api/train/${m.model_id}/export?framework=keras`);
  }

  // --- painting, once per animation frame ------------------------------------------------------
  /** Paint what is pending now (status, filters, curves), before a final message's status: a short job's last
   * progress arrives in the same burst as its "done", and painted on the next frame it wrote "batch 8 of 8 · almost
   * done" over "Done after…". */
  flush() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.paint();
    this.loss.flush(); // the curves too: "Done after…" over a chart still blank was seen in a burst
    this.accuracy.flush();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.paint();
    });
  }

  paint() {
    const m = this.pendingProgress;
    if (m) {
      this.pendingProgress = null;
      const done = m.epoch * m.batches + m.batch + 1;
      const fraction = done / (m.epochs * m.batches);
      this.$("train-bar").style.width = `${fraction * 100}%`;
      this.$("train-bar").parentElement.setAttribute("aria-valuenow", String(Math.round(fraction * 100)));
      const left = m.seconds_left >= 1 ? `about ${Math.round(m.seconds_left)} s left` : "almost done";
      this.status(`Epoch ${m.epoch + 1} of ${m.epochs} · batch ${m.batch + 1} of ${m.batches} · loss ${formatNumber(m.loss)}`
        + ` · accuracy ${(m.accuracy * 100).toFixed(1)}% · ${left}${this.job?.state === "paused" ? " · paused" : ""}`);
    }
    const f = this.pendingFilters;
    if (f) {
      this.pendingFilters = null;
      const [count] = f.filters.shape;
      this.$("train-filters-title").textContent = `Learned filters: ${f.filters.layer}, ${count} of ${f.filters.shape.join("×")}, ${f.label}`;
      drawKernels(this.$("train-filters"),
        f.filters.values.map((values, k) => ({ name: `#${k + 1}`, values, colors: f.filters.colors[k] })), this.palettes);
      drawScale(this.$("train-filters-legend"), f.filters.scale, this.palettes);
      this.probe.filterPaints += 1;
      this.probe.lastFilters = [...this.$("train-filters").querySelectorAll("canvas")].map((canvas) => canvas.toDataURL());
      this.probe.firstFilters ??= this.probe.lastFilters; // the pixels painted first and last, for tests
    }
    const e = this.pendingEpoch;
    if (e) {
      this.pendingEpoch = null;
      drawConfusion(this.$("train-confusion"), e.confusion);
      drawWrong(this.$("train-wrong"), e.misclassified, (index) => {
        if (this.job) { // the model is kept (and can predict) once its job ends
          this.status("The model can be tried once this training ends (or press Stop).", true);
          return;
        }
        this.showPart("try");
        this.tryView.pickValidation(index);
      });
    }
  }

  /** Sobel x and y from the page's catalogue (the server's numbers and colours), beside the learned filters. */
  drawSobel(catalogue) {
    const sobel = ["sobel_x", "sobel_y"].map((name) => catalogue.find((entry) => entry.name === name)).filter(Boolean);
    // each on its own symmetric range, ±its largest magnitude (the server's extent)
    drawKernels(this.$("train-sobel"), sobel.map((entry) => ({ name: `${entry.name.replace("_", " ")} ±${formatNumber(entry.extent)}`,
      values: entry.kernel, colors: entry.colors })), this.palettes);
  }
}

export { chartFont, PRETRAINED };
