// Turns the page state into the server's RunRequest (plain data mapping; the server computes everything).

function kernelRef(kernel) {
  if (kernel.values) return { values: kernel.values };
  if (kernel.text) return { text: kernel.text };
  return { name: kernel.name, params: kernel.params ?? {} };
}

function filterSpec(filter) {
  const spec = { kernel: kernelRef(filter.kernel), bias: Number(filter.bias) || 0 };
  if (filter.perChannel && filter.channels) spec.channels = filter.channels.map(kernelRef);
  return spec;
}

function padding(state) {
  return state.paddingKind === "number" ? Number(state.padding) : state.paddingKind;
}

/** The source part of a request. */
export function buildSource(state) {
  return state.source.kind === "matrix"
    ? { matrix_text: state.source.text }
    : { image_id: state.source.imageId, color: state.color };
}

/** The ChainRequest for the Layers view. */
export function buildChainRequest(state) {
  return state.source ? { source: buildSource(state), layers: state.chainLayers, seed: Number(state.chainSeed) || 0 } : null;
}

/** The RunRequest for the current state, or null when there is nothing to compute on yet (or it is a chain). */
export function buildRequest(state) {
  if (!state.source || !["conv2d", "activation", "pool", "upsample", "conv_transpose2d"].includes(state.op)) return null; // layers, train: no single run
  const source = buildSource(state);
  let operation;
  switch (state.op) {
    case "conv2d":
      operation = {
        op: "conv2d", filters: state.filters.map(filterSpec), depthwise: state.depthwise,
        stride: Number(state.stride), padding: padding(state), padding_mode: state.paddingMode,
        dilation: Number(state.dilation), flip: state.flip,
      };
      if (state.depthwise) operation.filters = [{ kernel: kernelRef(state.filters[0].kernel), bias: Number(state.filters[0].bias) || 0 }];
      break;
    case "activation":
      operation = { op: state.activation, negative_slope: Number(state.slope) };
      break;
    case "pool":
      operation = {
        op: state.poolKind, kernel_size: Number(state.poolSize), stride: Number(state.stride), padding: padding(state),
        ceil_mode: state.ceilMode,
      };
      if (state.poolKind === "max_pool2d") operation.dilation = Number(state.dilation);
      if (state.poolKind === "avg_pool2d") operation.count_include_pad = state.includePad;
      break;
    case "upsample":
      operation = { op: "upsample", scale_factor: Number(state.scale), mode: state.upsampleMode,
        align_corners: state.upsampleMode === "bilinear" && state.alignCorners };
      break;
    default:
      operation = {
        op: "conv_transpose2d", filters: state.filters.map(filterSpec), stride: Number(state.stride),
        padding: Number(state.padding), output_padding: Number(state.outputPadding), dilation: Number(state.dilation),
      };
  }
  return { source, operation };
}
