// A refused setting's message, in full, next to the control that caused it (the server's message names
// the argument first: "stride must be ...", "kernel must not be larger ..."). Nothing is checked here.

const FIELDS = [
  [/^stride\b/, () => "stride"],
  [/^padding_mode\b/, () => "padding-mode"],
  [/^padding\b/, () => "padding"],
  [/^dilation\b/, () => "dilation"],
  [/^output_padding\b/, () => "output-padding"],
  [/^scale_factor\b/, () => "scale"],
  [/^negative_slope\b/, () => "activation-slope"],
  [/^kernel_size\b/, () => "pool-size"],
  [/^(kernel|weight|row \d+|filters)\b/, (op) => (op === "pool" ? "pool-size" : "kernel-text")],
];

/** Remove every field error and unmark the refused controls. */
export function clearFieldErrors(document) {
  for (const node of document.querySelectorAll(".field-error")) node.remove();
  for (const node of document.querySelectorAll("[aria-invalid=true]")) node.removeAttribute("aria-invalid");
}

/** The control of each state key, for a refusal that follows the user's last change. */
export const KEY_CONTROLS = {
  stride: "stride", paddingKind: "padding-kind", padding: "padding", paddingMode: "padding-mode",
  dilation: "dilation", outputPadding: "output-padding", slope: "activation-slope", poolSize: "pool-size",
  poolKind: "pool-kind", ceilMode: "pool-ceil", scale: "scale", upsampleMode: "upsample-mode",
  filters: "kernel-text", depthwise: "depthwise", flip: "flip", source: "sample", color: "sample",
};

const visible = (control) => control && !control.closest("[hidden]");

/**
 * Show `message` under the control the user just changed (`changedId`), else under the one the message
 * names, for operation `op`; returns that control, or null when none is on screen (shown elsewhere then).
 */
export function showFieldError(document, message, op, changedId = null) {
  clearFieldErrors(document);
  const match = FIELDS.find(([pattern]) => pattern.test(message));
  const changed = changedId ? document.getElementById(changedId) : null;
  const control = visible(changed) ? changed : match ? document.getElementById(match[1](op)) : null;
  if (!visible(control)) return null;
  control.setAttribute("aria-invalid", "true");
  const note = document.createElement("p");
  note.className = "error field-error";
  note.setAttribute("role", "alert");
  note.textContent = message;
  (control.closest(".row") ?? control.closest("label") ?? control).after(note);
  note.scrollIntoView({ block: "nearest" });
  return control;
}
