// The Fourier view: its button enabled only where it works (else disabled with the server's reason), and the
// dialog with the four spectra and the difference from the direct result.

import { spectral, spectralAvailable } from "./api.js";
import { formatNumber } from "./render/colors.js";
import { status } from "./status-view.js";

export class FourierView {
  /**
   * @param {Document} document
   * @param {() => object | null} currentRun the run on stage
   */
  constructor(document, currentRun) {
    this.$ = (id) => document.getElementById(id);
    this.currentRun = currentRun;
    this.$("fourier-button").addEventListener("click", () => this.open());
  }

  /** Ask the server whether the run on stage can be shown through the Fourier transform. */
  async refresh() {
    const shown = this.currentRun();
    const button = this.$("fourier-button");
    if (shown.op !== "conv2d") return;
    try {
      const answer = await spectralAvailable(shown.run_id);
      if (this.currentRun() !== shown) return;
      button.disabled = !answer.available;
      const reason = answer.reason ?? "";
      this.$("fourier-reason").textContent = answer.available ? "" : `${reason.charAt(0).toUpperCase()}${reason.slice(1)}.`;
    } catch (error) {
      if (error.name !== "AbortError") status(error.message, true);
    }
  }

  async open() {
    const run = this.currentRun();
    if (!run) return;
    try {
      const route = await spectral(run.run_id);
      for (const name of ["image", "kernel", "product", "result"]) this.$(`spectrum-${name}`).src = route[`${name}_url`];
      this.$("fourier-difference").textContent = `largest difference from the direct result: ${route.max_difference.toExponential(2)} ` +
        `(values up to ${formatNumber(route.largest_value)}; grid ${route.grid.join("×")}, no wrap-around)`;
      this.$("fourier-dialog").showModal();
    } catch (error) {
      if (error.name !== "AbortError") status(error.message, true);
    }
  }
}
