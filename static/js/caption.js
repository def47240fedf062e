// The stage's one-line caption: what is happening right now, in a learner's words (text only, no numbers made up).

const POOL_WORDS = { max_pool2d: "keeps the largest value", avg_pool2d: "keeps the average", sum_pool2d: "keeps the sum" };

function kernelWindow(state, size) {
  const shown = state.depthwise && state.op === "conv2d" ? 0 : state.filterIndex; // depthwise: filter 1 alone
  const kernel = state.filters[shown]?.kernel ?? state.filters[0].kernel;
  return kernel.name ? `A ${size} ${kernel.name.replaceAll("_", " ")} window` : `A ${size} window (your kernel)`;
}

function what(run, state) {
  const g = run.geometry;
  const size = g.kernel ? `${g.kernel[0]}×${g.kernel[1]}` : "";
  const picture = run.source_kind === "image" ? "picture" : "matrix";
  switch (run.op) {
    case "conv2d":
      return `${kernelWindow(state, size)} slides over the ${picture}: each output pixel sums its products`;
    case "max_pool2d": case "avg_pool2d": case "sum_pool2d":
      return `Each ${size} window of the ${picture} ${POOL_WORDS[run.op]}`;
    case "upsample":
      return `Each output pixel is read from the nearest input pixels (${state.upsampleMode})`;
    case "conv_transpose2d":
      return `Each input pixel stamps a scaled ${size} kernel into the output; where stamps overlap they add up`;
    default:
      return `${run.op} is applied to every value on its own`;
  }
}

/** The caption for a run: what it computes and what playback is doing. */
export function captionFor(run, state, playing) {
  if (!run) return "Loading…";
  const doing = playing ? "Playing, row by row (Space pauses)."
    : "Paused: Space plays; click a pixel to explain it.";
  return `${what(run, state)}. ${doing}`;
}
