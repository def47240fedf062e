// DOM inputs -> update(patch), and state -> DOM inputs (so a shared link shows its settings). Nothing more.

const number = (text) => (text.trim() === "" || !Number.isFinite(Number(text)) ? undefined : Number(text));

/** {element id, state key, parse}: checkboxes read `checked`, the rest `value`. */
export const BINDINGS = [
  { id: "stride", key: "stride", parse: number },
  { id: "padding-kind", key: "paddingKind" },
  { id: "padding", key: "padding", parse: number },
  { id: "padding-mode", key: "paddingMode" },
  { id: "dilation", key: "dilation", parse: number },
  { id: "output-padding", key: "outputPadding", parse: number },
  { id: "activation-fn", key: "activation" },
  { id: "activation-slope", key: "slope", parse: number },
  { id: "pool-kind", key: "poolKind" },
  { id: "pool-size", key: "poolSize", parse: number },
  { id: "pool-ceil", key: "ceilMode", checkbox: true },
  { id: "pool-include-pad", key: "includePad", checkbox: true },
  { id: "scale", key: "scale", parse: number },
  { id: "upsample-mode", key: "upsampleMode" },
  { id: "align-corners", key: "alignCorners", checkbox: true },
  { id: "depthwise", key: "depthwise", checkbox: true },
  { id: "follow", key: "follow", checkbox: true },
  { id: "flip", key: "flip", checkbox: true },
  { id: "chain-seed", key: "chainSeed", parse: number },
  { id: "display-mode", key: "displayMode" },
  { id: "contrast", key: "contrast" },
];

/** Defaults that make sense when switching to an operation (a pool's stride is its size, etc.). */
export const OP_DEFAULTS = {
  conv2d: { stride: 1, paddingKind: "number", padding: 1, dilation: 1 },
  activation: {},
  pool: { stride: 2, poolSize: 2, paddingKind: "number", padding: 0, dilation: 1 },
  upsample: {},
  conv_transpose2d: { stride: 2, paddingKind: "number", padding: 0, dilation: 1, outputPadding: 0 },
  layers: { openLayer: -1 },
};

/** The tabs that compute their own input, and why the header's Image and Colour controls do nothing there. */
const OWN_INPUT = {
  train: "The Train tab trains on its own MNIST digits: Image, Upload, Matrix and Colour apply to the operation tabs " +
    "(Convolution to Layers).",
  backprop: "The Backprop tab computes its own example (an MNIST digit or the 5×5 matrix): Image, Upload, Matrix and " +
    "Colour apply to the operation tabs (Convolution to Layers).",
};
const HEADER_INPUTS = ["#sample", ".topbar > label.field:has(#sample)", "#upload-button", "#matrix-button",
  ".topbar > .segmented", ".topbar > .segmented input"];

/** Disable the header's input controls, with the reason as their title, on a tab they do not drive. */
function showHeaderInputs(document, op) {
  const reason = OWN_INPUT[op] ?? null;
  for (const element of document.querySelectorAll(HEADER_INPUTS.join(", "))) {
    if (!("ownTitle" in element.dataset)) element.dataset.ownTitle = element.getAttribute("title") ?? "";
    if ("disabled" in element && element.tagName !== "LABEL") element.disabled = reason !== null;
    if (reason) element.title = reason;
    else if (element.dataset.ownTitle) element.title = element.dataset.ownTitle;
    else element.removeAttribute("title");
  }
}

/** Wire every binding: input events patch the state. */
export function bindControls(document, update) {
  for (const binding of BINDINGS) {
    const element = document.getElementById(binding.id);
    element.addEventListener(binding.checkbox ? "change" : "input", () => {
      const value = binding.checkbox ? element.checked : (binding.parse ?? String)(element.value);
      if (value !== undefined) update({ [binding.key]: value });
    });
  }
}

/** Show the state in the inputs (after a link is opened, or the state changed elsewhere). */
export function showControls(document, state) {
  for (const binding of BINDINGS) {
    const element = document.getElementById(binding.id);
    if (binding.checkbox) element.checked = Boolean(state[binding.key]);
    else if (document.activeElement !== element) element.value = String(state[binding.key]);
  }
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.op === state.op));
  }
  for (const node of document.querySelectorAll("[data-for]")) {
    node.hidden = !node.dataset.for.split(" ").includes(state.op);
  }
  const chainOnly = state.op === "layers" && state.openLayer < 0;
  for (const node of document.querySelectorAll(".stage > .canvas-card, .stage > .calc, .stage > .caption")) {
    node.hidden = chainOnly;
  }
  document.getElementById("chain-view").hidden = !chainOnly;
  // the chain's cards are not the stage: no transport (play, counter) for a stage the chain covers
  document.querySelector(".transport").hidden = chainOnly;
  document.getElementById("back-to-chain").hidden = state.op !== "layers" || state.openLayer < 0;
  document.getElementById("padding").disabled = state.op !== "conv_transpose2d" && state.paddingKind !== "number";
  document.getElementById("pool-include-pad").disabled = state.poolKind !== "avg_pool2d";
  document.getElementById("align-corners").disabled = state.upsampleMode !== "bilinear";
  document.getElementById("activation-slope").disabled = state.activation !== "leaky_relu";
  for (const radio of document.querySelectorAll("input[name=color]")) radio.checked = radio.value === state.color;
  showHeaderInputs(document, state.op);
}
