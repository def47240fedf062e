// The output's display selects and legend: what "auto" resolves to and the colour scale, as the server says.

import { displayOf } from "./api.js";
import { drawLegend } from "./render/legend.js";
import { status } from "./status-view.js";

const MODE_NAMES = { signed: "signed", abs: "|value|", gray: "gray", photo: "as a photo" };

export class DisplayView {
  /**
   * @param {Document} document
   * @param {object} palettes the server's colour tables by scheme
   * @param {() => object | null} currentRun the run on stage
   * @param {() => object} getState
   */
  constructor(document, palettes, currentRun, getState) {
    this.$ = (id) => document.getElementById(id);
    this.palettes = palettes;
    this.currentRun = currentRun;
    this.getState = getState;
  }

  /** Ask the server how to show this run's result (the chosen mode and contrast, or the kernel's default). */
  async refresh() {
    const shown = this.currentRun();
    const $ = this.$;
    const transposed = shown.op === "conv_transpose2d"; // its partial outputs keep the final result's scale
    $("display-mode").disabled = transposed;
    $("contrast").disabled = transposed;
    if (transposed) {
      $("display-mode").options[0].textContent = "auto";
      $("contrast").options[0].textContent = "auto";
      drawLegend($("legend"), shown.display, this.palettes, shown.stats);
      return;
    }
    const state = this.getState();
    let view;
    try {
      view = await displayOf(shown.run_id, state.displayMode, state.contrast);
    } catch (error) {
      if (error.name !== "AbortError") status(error.message, true);
      return;
    }
    if (this.currentRun() !== shown) return;
    shown.view = view;
    $("display-mode").options[0].textContent = `auto: ${MODE_NAMES[view.mode]}`;
    $("contrast").options[0].textContent = `auto: ${view.contrast === "full" ? "full range" : "percentile"}`;
    drawLegend($("legend"), view, this.palettes, view);
  }
}
