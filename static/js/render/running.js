// A transposed convolution's running sums as the stage writes them in the output cells: the frame's
// running_output (sent by the server for small outputs), one map of it, as rows of numbers. Nothing is
// computed here: the numbers are the frame's, only arranged.

/**
 * The running sums of map `channel` after this frame, in the shape the stage's number writer takes
 * ({top, left, values: rows of numbers}), or null when the frame carries none (a large output).
 */
export function runningSums(frame, channel) {
  const field = frame?.running_output;
  if (!field) return null;
  const [height, width] = field.shape.slice(-2);
  const maps = field.shape.length === 3 ? field.shape[0] : 1;
  const map = Math.min(Math.max(channel, 0), maps - 1);
  const values = [];
  for (let r = 0; r < height; r += 1) {
    const start = (map * height + r) * width;
    values.push(Array.from(field.data.subarray(start, start + width)));
  }
  return { top: 0, left: 0, values };
}
