// The single frozen state: getState, update(patch), a "change" event, and the shareable URL hash.

const events = new EventTarget();

/** Defaults: the page opens on the first sample with Sobel x, as a class would start. */
export const DEFAULTS = Object.freeze({
  source: null, // { kind: "image", imageId, name } or { kind: "matrix", text }
  color: "rgb",
  op: "conv2d",
  filters: [{ kernel: { name: "sobel_x", params: {} }, bias: 0, perChannel: false, channels: null }],
  filterIndex: 0,
  depthwise: false,
  stride: 1,
  paddingKind: "number",
  padding: 1,
  paddingMode: "zeros",
  dilation: 1,
  outputPadding: 0,
  activation: "relu",
  slope: 0.01,
  poolKind: "max_pool2d",
  poolSize: 2,
  ceilMode: false,
  includePad: true,
  scale: 2,
  upsampleMode: "nearest",
  alignCorners: false,
  step: -1,
  speed: 20,
  map: -1, // output map shown; -1 follows the current step
  zoom: 1,
  center: null, // [x, y] in 0..1 of the input, when zoomed in
  follow: true,
  fitEach: false, // false: input and output at the same css px per cell; true: each fits its own panel
  flip: false,
  displayMode: "auto", // how the output map is coloured: auto (the kernel's default), signed, abs, gray, photo
  contrast: "auto", // auto, full, percentile
  chainLayers: [
    { type: "conv2d", filters: ["sobel_x", "sobel_y", "laplace_4", "sharpen"], padding: 1, activation: "relu" },
    { type: "max_pool2d", pool_size: 2 },
    { type: "upsample", size: 2 },
  ],
  chainSeed: 0,
  lesson: null,
  openLayer: -1, // the chain layer shown on the stage, -1 for the chain itself
});

let state = Object.freeze({ ...DEFAULTS });

/** @returns {object} the current (frozen) state */
export const getState = () => state;

/** Listen to every change; the listener gets the new state and the changed keys. */
export const onChange = (listener) =>
  events.addEventListener("change", (event) => listener(state, event.detail));

/** Merge a patch into the state and announce which keys changed. */
export function update(patch) {
  const changed = Object.keys(patch).filter((key) => state[key] !== patch[key]);
  if (!changed.length) return;
  state = Object.freeze({ ...state, ...patch });
  events.dispatchEvent(new CustomEvent("change", { detail: new Set(changed) }));
}

/**
 * The one list of what each key decides: "run" = the server's run request, "chain" = the Layers view's chain,
 * "editor" = the kernel editor's view, "link" = carried by a shared link. Keys without "link" (filterIndex,
 * zoom, center, follow) stay on this page.
 */
const ROLES = {
  source: "run chain editor link", color: "run chain editor link", op: "run chain editor link",
  filters: "run editor link", depthwise: "run editor link", filterIndex: "editor",
  stride: "run link", paddingKind: "run link", padding: "run link", paddingMode: "run link", dilation: "run link",
  outputPadding: "run link", activation: "run link", slope: "run link", poolKind: "run link", poolSize: "run link",
  ceilMode: "run link", includePad: "run link", scale: "run link", upsampleMode: "run link",
  alignCorners: "run link", flip: "run link",
  step: "link", speed: "link", map: "link", displayMode: "link", contrast: "link", fitEach: "link",
  chainLayers: "chain link", chainSeed: "chain link", lesson: "link", openLayer: "link",
};

/** The keys that decide `role` ("run", "chain", "editor" or "link"). */
export const keysFor = (role) => new Set(Object.keys(ROLES).filter((key) => ROLES[key].split(" ").includes(role)));

/** Whether any of the `changed` keys decides `role`. */
export const decides = (role, changed) => [...changed].some((key) => ROLES[key]?.split(" ").includes(role));

const SHARED = [...keysFor("link")];

/** The state's shareable part, for the URL hash. */
export function toHash(current) {
  const shared = {};
  for (const key of SHARED) if (JSON.stringify(current[key]) !== JSON.stringify(DEFAULTS[key])) shared[key] = current[key];
  return "#" + encodeURIComponent(JSON.stringify(shared));
}

/** Read a hash written by toHash; unknown or broken hashes give {}. */
export function fromHash(hash) {
  try {
    const parsed = JSON.parse(decodeURIComponent(hash.replace(/^#/, "")) || "{}");
    return Object.fromEntries(Object.entries(parsed).filter(([key]) => SHARED.includes(key)));
  } catch {
    return {};
  }
}
