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
  document.getElementById("back-to-chain").hidden = state.op !== "layers" || state.openLayer < 0;
  document.getElementById("padding").disabled = state.op !== "conv_transpose2d" && state.paddingKind !== "number";
  document.getElementById("pool-include-pad").disabled = state.poolKind !== "avg_pool2d";
  document.getElementById("align-corners").disabled = state.upsampleMode !== "bilinear";
  document.getElementById("activation-slope").disabled = state.activation !== "leaky_relu";
  for (const radio of document.querySelectorAll("input[name=color]")) radio.checked = radio.value === state.color;
}
