// Which step a newly opened run starts at. A change of operation or input starts at step 1; a change that
// keeps the geometry (kernel values, bias, flip, padding mode: the same windows over the same input) keeps
// the step, where it still means the same window. Decides only; the stream seeks.

/** What a run's steps walk over: its operation, input and output shapes, and what it was computed on. */
export function geometryOf(run, state) {
  return JSON.stringify([run.op, run.input_shape, run.output_shape, run.frame_count, state.source, state.color]);
}

/**
 * The step to show after `run` opened, or null to keep the one the server kept (the same geometry).
 * @param {string|null} previous geometryOf() the run on stage before, null for the first run
 * @param {number} position the step the server kept (-1 when it kept none: a first open, a new socket)
 * @param {number} linked the step a shared link or the state asks for
 */
export function startStep(previous, current, position, linked, frameCount) {
  if (position < 0) return Math.max(0, Math.min(linked, frameCount - 1));
  return previous === current ? null : 0;
}

/**
 * After "opened" the server sends the step it kept; when the page starts the new run at another step, that
 * frame is stale by the time it arrives: drop it from the player (not painted, not acknowledged, so the
 * server, already moved on, never hears of it). Call before seeking; `player` listens to `stream` first.
 */
export function dropKeptFrame(stream, player, kept) {
  const drop = (event) => {
    const batch = event.detail;
    if (batch.peek) return;
    stream.removeEventListener("frames", drop);
    if (batch.start === kept && player.latest?.index === kept) player.latest = null;
  };
  if (kept >= 0) stream.addEventListener("frames", drop);
}
