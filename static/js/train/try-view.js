// "Try it": draw a digit (or upload a photo, or pick a shipped digit), and see what a model says: the
// preparation steps the server took, the ten probabilities as bars, and every layer's maps on that digit.

import { ApiError } from "../api.js";
import { formatNumber } from "../render/colors.js";
import { digitCanvas } from "./confusion.js";
import { DrawPad } from "./draw-pad.js";
import { predictDigit, relative } from "./train-api.js";

export const PRETRAINED = "mnist-pretrained";

function node(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  Object.assign(element, props);
  element.append(...children);
  return element;
}

export class TryView {
  /**
   * @param {Document} document
   * @param {import("./try-stage.js").TryStage} stage opens a layer on the stage
   */
  constructor(document, stage) {
    const $ = (id) => document.getElementById(id);
    this.$ = $;
    this.stage = stage;
    this.modelId = PRETRAINED;
    this.hasValidation = false;
    this.pad = new DrawPad($("try-pad"));
    this.drawn = false;
    this.answer = null;
    this.pad.addEventListener("drawn", () => { this.drawn = true; this.predictPad(); });
    $("try-clear").addEventListener("click", () => this.clear());
    $("try-predict").addEventListener("click", () => this.predictPad());
    $("try-upload").addEventListener("click", () => $("try-file").click());
    $("try-file").addEventListener("change", () => {
      const [file] = $("try-file").files;
      $("try-file").value = "";
      if (file) this.photo(file);
    });
    $("try-pick").addEventListener("click", () => this.pick(Number($("try-index").value)));
    this.setModel(PRETRAINED, null);
  }

  /** Use this model from now on (a trained model id with its validation count, or the pretrained one). */
  setModel(modelId, validationSize) {
    this.modelId = modelId;
    this.hasValidation = Boolean(validationSize);
    const $ = this.$;
    $("try-model").textContent = modelId === PRETRAINED
      ? "model: the pretrained Keras MNIST network (98.5% on held-out digits)"
      : `model: the network you trained (${modelId.slice(0, 8)}…)`;
    $("try-pick-kind").textContent = this.hasValidation ? "Validation digit" : "Test digit";
    $("try-index").max = String(this.hasValidation ? validationSize - 1 : 1999);
  }

  clear() {
    this.pad.clear();
    this.drawn = false;
    this.$("try-error").textContent = "";
  }

  predictPad() {
    return this.ask({ pad: this.pad.pixels() });
  }

  /** A shipped digit: a validation digit of the trained model, else a held-out test digit. */
  pick(index) {
    return this.ask(this.hasValidation ? { validation_index: index } : { test_index: index });
  }

  /** A validation digit of the trained model (from the list of wrong ones). */
  pickValidation(index) {
    this.$("try-index").value = String(index);
    return this.ask({ validation_index: index });
  }

  async photo(file) {
    const url = URL.createObjectURL(file);
    try {
      const image = new Image();
      image.src = url;
      await image.decode();
      await this.ask({ pad: this.pad.showImage(image) });
    } catch (error) {
      this.$("try-error").textContent = error instanceof ApiError ? error.message : `That file could not be read as a picture (${error.message}).`;
    } finally {
      URL.revokeObjectURL(url);
    }
  }

  async ask(body) {
    const $ = this.$;
    $("try-error").textContent = "";
    $("try-answer").textContent = "Probabilities: asking…";
    let answer;
    try {
      answer = await predictDigit(this.modelId, body);
    } catch (error) {
      if (error.name === "AbortError") return;
      if (!(error instanceof ApiError)) throw error;
      $("try-error").textContent = error.message;
      $("try-answer").textContent = "Probabilities";
      $("try-bars").replaceChildren();
      return;
    }
    this.answer = answer;
    this.show(answer);
  }

  show(answer) {
    const $ = this.$;
    const truth = answer.label === null || answer.label === undefined ? "" : ` (it is a ${answer.label})`;
    $("try-answer").textContent = `It says ${answer.predicted}${truth}`;
    const bars = answer.probabilities.map((p, digit) => {
      const bar = node("span", { className: "prob-bar" });
      bar.style.width = `${p * 100}%`;
      const row = node("div", { className: `prob-row${digit === answer.predicted ? " top" : ""}` },
        node("span", { className: "prob-digit", textContent: String(digit) }),
        node("span", { className: "prob-track" }, bar),
        node("span", { className: "prob-value", textContent: formatNumber(p) }));
      row.dataset.digit = String(digit);
      return row;
    });
    $("try-bars").replaceChildren(...bars);
    $("try-bars").dataset.predicted = String(answer.predicted);
    this.showSteps(answer);
    this.showMaps(answer.chain);
  }

  showSteps(answer) {
    const steps = answer.steps;
    const figure = (child, caption) => node("figure", {}, child, node("figcaption", { textContent: caption }));
    const picture = (src, alt) => node("img", { src, alt });
    const items = [];
    if (steps) {
      items.push(figure(picture(steps.normalised, "the pad, ink bright"), steps.inverted ? "inverted (dark ink) to ink bright, 0..1" : "ink bright, 0..1"));
      const [top, left, height, width] = steps.box;
      items.push(figure(picture(steps.cropped, "the ink's box"), `ink box ${height}×${width} at (${top}, ${left})`));
      items.push(figure(picture(steps.fitted, "scaled to 20 px"), "longer side 20 px"));
      items.push(figure(picture(steps.centred, "centred in 28×28"), `28×28, centre of mass at (14, 14): offset (${steps.offset.join(", ")})`));
    } else {
      items.push(figure(digitCanvas(answer.digit), answer.label === null ? "the 28×28 digit" : `shipped digit (a ${answer.label})`));
    }
    this.$("try-steps").replaceChildren(...items);
  }

  /** What the digit on the pad is, in words, for the stage's title. */
  digitName(answer) {
    if (answer.steps) return "your digit";
    return answer.label === null || answer.label === undefined ? "this digit" : `a shipped ${answer.label}`;
  }

  showMaps(chain) {
    const answer = this.answer;
    const model = this.modelId === PRETRAINED ? "the pretrained network" : "the network you trained";
    const rows = chain.layers.filter((layer) => layer.maps.length).map((layer) => {
      const head = node("div", { className: "try-layer-head" },
        node("span", { className: "try-layer-name", textContent: `${layer.name} (${layer.output_shape.join("×")})` }));
      if (layer.run_url) {
        head.append(node("button", { type: "button", className: "button small", textContent: "Step it on the stage",
          title: `Open ${layer.name} on the stage: ${layer.type === "conv2d" ? "its learned kernels" : "its windows"} ` +
            "on this digit, step by step", onclick: () => this.stage.open(layer, model, this.digitName(answer)) }));
      }
      return node("div", { className: "try-layer" }, head,
        node("div", { className: "thumbs" }, ...layer.maps.map((url, k) => node("img", {
          src: relative(url), alt: `${layer.name} map ${k + 1}` }))));
    });
    this.$("try-maps").replaceChildren(...rows);
  }
}
