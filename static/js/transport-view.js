// The transport: play, step, rows, scrub, speed, fill, zoom buttons and the keyboard shortcuts.

import { groupDigits } from "./render/colors.js";

export class TransportView {
  /**
   * @param {Document} document
   * @param {{player: object, stream: object, stage: object, currentRun: () => object | null,
   *   getState: () => object, update: (patch: object) => void}} parts
   */
  constructor(document, { player, stream, stage, currentRun, getState, update }) {
    const $ = (id) => document.getElementById(id);
    this.$ = $;
    this.player = player;
    this.currentRun = currentRun;
    this.getState = getState;
    this.update = update;
    const still = (action) => () => { player.pause(); action(); };
    const last = () => { const run = currentRun(); return run ? run.frame_count - 1 : 0; };
    $("play").addEventListener("click", () => player.toggle());
    $("step-forward").addEventListener("click", still(() => stream.step(1)));
    $("step-back").addEventListener("click", still(() => stream.step(-1)));
    $("row-forward").addEventListener("click", still(() => stream.stepRows(1)));
    $("row-back").addEventListener("click", still(() => stream.stepRows(-1)));
    $("to-start").addEventListener("click", still(() => stream.seek(0)));
    $("to-end").addEventListener("click", still(() => stream.seek(last())));
    $("fill-all").addEventListener("click", still(() => stream.seek(last())));
    $("fill-rows").addEventListener("click", () => this.playRows());
    $("scrub").addEventListener("input", still(() => stream.seek(Number($("scrub").value))));
    $("speed").addEventListener("input", () => this.setSpeed(Number($("speed").value)));
    $("zoom-in").addEventListener("click", () => stage.zoomBy(2));
    $("zoom-out").addEventListener("click", () => stage.zoomBy(0.5));
    $("zoom-fit").addEventListener("click", () => stage.setZoom(1));
    $("fit-each").addEventListener("change", () => update({ fitEach: $("fit-each").checked }));
    stage.addEventListener("zoom", (event) => {
      $("zoom-level").textContent = event.detail.zoom === 1 ? "fit" : `${Math.round(event.detail.zoom * 100)}%`;
    });
    stream.addEventListener("state", (event) => {
      $("play").textContent = event.detail.playing ? "❚❚" : "▶";
      $("play").setAttribute("aria-label", event.detail.playing ? "Pause" : "Play");
    });
    document.addEventListener("keydown", (event) => {
      if (event.target.closest("input, textarea, select, dialog") && event.target.type !== "range") return;
      // a tab that hides the transport (Train, a Backprop panel) does not play or step the stage behind it
      if (event.key.toLowerCase() !== "p" && !$("play").checkVisibility()) return;
      const actions = {
        " ": () => player.toggle(),
        ArrowRight: () => (event.shiftKey ? $("row-forward") : $("step-forward")).click(),
        ArrowLeft: () => (event.shiftKey ? $("row-back") : $("step-back")).click(),
        Home: () => $("to-start").click(),
        p: () => $("present").click(),
        P: () => $("present").click(),
        End: () => $("to-end").click(),
      };
      if (actions[event.key]) {
        event.preventDefault();
        actions[event.key]();
      }
    });
  }

  /** Same scale for input and output, or each fitted to its panel, as the state says. */
  showFit(stage, fitEach) {
    this.$("fit-each").checked = fitEach;
    stage.setSameScale(!fitEach);
  }

  /** Steps per second from the slider's exponent (10^exponent), into the state and the player. */
  setSpeed(exponent) {
    const speed = Math.max(1, Math.round(10 ** exponent));
    this.$("speed-value").textContent = `${groupDigits(speed)}/s`;
    this.update({ speed });
    if (this.player.playing) this.player.play(speed);
    else this.player.speed = speed;
  }

  /** Show the state's speed on the slider (a link's, or the default) and give it to the player. */
  showSpeed() {
    const speed = this.getState().speed;
    this.$("speed").value = String(Math.log10(speed));
    this.$("speed-value").textContent = `${groupDigits(speed)}/s`;
    this.player.speed = speed;
  }

  /** Play row by row (about 20 output rows a second), so a whole map fills in seconds, not hours. */
  playRows() {
    const run = this.currentRun();
    if (!run) return;
    this.setSpeed(Math.log10(Math.max(this.getState().speed, run.geometry.out_shape[1] * 20)));
    this.$("speed").value = String(Math.log10(this.getState().speed));
    this.player.play(this.getState().speed);
  }
}
