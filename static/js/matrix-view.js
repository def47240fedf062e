// The Matrix dialog: type a small matrix (or load a preset); it stays open with the bad number selected
// until the server has read it.

import { ApiError, checkMatrix } from "./api.js";
import { EXAMPLES } from "./textbook.js";

export const PRESETS = {
  five: "1 1 1 0 0\n0 1 1 1 0\n0 0 1 1 1\n0 0 1 1 0\n0 1 1 0 0",
  six: "3 0 1 2 7 4\n1 5 8 9 3 1\n2 7 2 5 1 3\n0 1 3 1 7 8\n4 2 1 6 2 8\n2 4 5 2 3 9",
};

/** Select the typed number at (row, column), 1-based over non-empty rows as the server counts them. */
function markToken(area, row, column) {
  if (!row) return;
  let offset = 0;
  let seen = 0;
  for (const line of area.value.split(/([;\n])/)) {
    if (line !== ";" && line !== "\n" && line.trim()) seen += 1;
    if (seen === row && line.trim()) {
      const tokens = [...line.matchAll(/[^\s,]+/g)];
      const token = tokens[Math.min(column ?? 1, tokens.length) - 1] ?? tokens.at(-1);
      const start = offset + (token ? token.index : line.length);
      const end = token && column <= tokens.length ? start + token[0].length : offset + line.length;
      area.focus();
      area.setSelectionRange(start, end);
      area.setAttribute("aria-invalid", "true");
      return;
    }
    offset += line.length;
  }
}

/**
 * Wire the Matrix dialog: `currentSource()` gives the source on stage, `useMatrix(text)` gets an accepted matrix.
 */
export function bindMatrixDialog(document, currentSource, useMatrix) {
  const $ = (id) => document.getElementById(id);
  let chosen = null; // the preset picked: its input with its filters, padding and stride
  $("matrix-button").addEventListener("click", () => {
    const source = currentSource();
    $("matrix-text").value = source?.kind === "matrix" ? source.text : PRESETS.five;
    $("matrix-dialog").showModal();
  });
  for (const button of document.querySelectorAll("[data-preset]")) {
    button.addEventListener("click", () => { // a textbook preset loads its whole example at once
      chosen = EXAMPLES[button.dataset.preset];
      $("matrix-text").value = chosen.text;
      $("matrix-dialog").close("preset");
    });
  }
  $("matrix-form").addEventListener("submit", async (event) => {
    if (event.submitter?.value !== "apply") return;
    event.preventDefault(); // the dialog stays open until the server has read the matrix
    const text = $("matrix-text").value;
    try {
      await checkMatrix(text);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      $("matrix-error").textContent = error.message;
      markToken($("matrix-text"), error.row, error.column);
      return;
    }
    $("matrix-error").textContent = "";
    $("matrix-dialog").close("apply");
  });
  $("matrix-text").addEventListener("input", () => {
    $("matrix-error").textContent = "";
    $("matrix-text").removeAttribute("aria-invalid");
  });
  $("matrix-dialog").addEventListener("close", () => {
    if ($("matrix-dialog").returnValue === "preset") useMatrix(chosen.text, chosen.settings);
    if ($("matrix-dialog").returnValue !== "apply") return;
    useMatrix($("matrix-text").value);
  });
}
