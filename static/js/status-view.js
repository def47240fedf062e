// The status line: one short message, marked when it reports a problem. The stage's runs write it with status();
// a tab that shows something else than the stage's run (Train, Backprop) holds it with holdStatus(), so a run
// opened behind that tab cannot leave the line describing what is not on screen; releaseStatus() gives the line
// back to the stage's latest message when an operation tab is opened again.

import { groupDigits } from "./render/colors.js";

const line = () => document.getElementById("status");
let stageLine = { message: "", isError: false }; // the stage's latest message, shown when no tab holds the line
let held = null; // {owner, message, isError} while a tab holds the line

function paint({ message, isError }) {
  line().textContent = message;
  line().classList.toggle("error-state", isError);
}

/** A run's shapes and length, as the status line writes it after the op: "3×240×320 → 1×240×320, 76,800 steps". */
export function runShapes(run) {
  return `${run.input_shape.join("×")} → ${run.output_shape.join("×")}, ${groupDigits(run.frame_count)} steps`;
}

/**
 * Show `message` about the stage's run in the status line (as an error when `isError`). While a tab holds the line,
 * it is kept for when the tab lets go; an error is shown at once all the same (a refusal or a lost connection is
 * never hidden).
 */
export function status(message, isError = false) {
  stageLine = { message, isError };
  if (!held || isError) paint(stageLine);
}

/** The tab `owner` says what it shows: the line is its own until releaseStatus(owner). */
export function holdStatus(owner, message, isError = false) {
  held = { owner, message, isError };
  paint(held);
}

/** `owner` lets go of the line (if it holds it): the stage's latest message comes back. */
export function releaseStatus(owner) {
  if (held?.owner !== owner) return;
  held = null;
  paint(stageLine);
}
