// The Matrix dialog's textbook presets: each sets its whole example (input, kernel or filters with their
// biases, padding, stride), not only the input. Data only: the server computes every number.

const block = (planes) => planes.map((plane) => plane.map((row) => row.join(" ")).join("\n")).join("\n\n");

/** A conv2d filter the kernel editor shows: one kernel on every channel, or one per channel (perChannel). */
const filter = (kernelOrSlices, bias = 0) => (Array.isArray(kernelOrSlices[0][0])
  ? { kernel: { values: kernelOrSlices[0] }, bias, perChannel: true, channels: kernelOrSlices.map((values) => ({ values })) }
  : { kernel: { values: kernelOrSlices }, bias, perChannel: false, channels: null });

const convolution = (filters, stride, padding) => ({
  op: "conv2d", filters, filterIndex: 0, depthwise: false, flip: false, stride, paddingKind: "number", padding,
  paddingMode: "zeros", dilation: 1, map: -1, step: 0,
});

// CS231n's convolution demo (5x5x3 input, two 3x3x3 filters w0 and w1, b0 = 1, b1 = 0, stride 2, pad 1)
// draws new numbers on every load; these are fixed (tests/fixtures/make_cs231n_fixture.py, checked there
// against PyTorch)
const CS231N_X = [
  [[2, 0, 1, 1, 0], [1, 2, 0, 0, 2], [0, 1, 2, 1, 1], [1, 0, 0, 2, 0], [2, 1, 1, 0, 1]],
  [[1, 1, 0, 2, 2], [0, 2, 1, 0, 1], [2, 0, 1, 1, 0], [0, 1, 2, 0, 2], [1, 0, 1, 2, 1]],
  [[0, 2, 2, 1, 0], [1, 0, 1, 2, 1], [1, 1, 0, 0, 2], [2, 2, 1, 0, 0], [0, 1, 0, 1, 2]],
];
const CS231N_W0 = [[[-1, 1, 0], [0, 1, -1], [1, 0, 0]], [[0, -1, 1], [1, 0, 0], [-1, 1, 0]], [[1, 0, 0], [-1, -1, 1], [0, 1, -1]]];
const CS231N_W1 = [[[0, 1, 1], [-1, 0, 1], [1, -1, 0]], [[1, 0, -1], [0, 0, 1], [-1, 1, 1]], [[-1, 1, 0], [1, -1, 0], [0, 0, 1]]];

export const EXAMPLES = {
  // the 5x5 image of 0s and 1s with the "X" kernel, no padding: the 3x3 map 4 3 4 / 2 4 3 / 2 3 4
  five: {
    text: block([[[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]]),
    settings: convolution([filter([[1, 0, 1], [0, 1, 0], [1, 0, 1]])], 1, 0),
  },
  // Andrew Ng's 6x6 with the vertical edge detector, no padding: a 4x4 map starting -5 -4 0 8
  six: {
    text: block([[[3, 0, 1, 2, 7, 4], [1, 5, 8, 9, 3, 1], [2, 7, 2, 5, 1, 3], [0, 1, 3, 1, 7, 8], [4, 2, 1, 6, 2, 8],
      [2, 4, 5, 2, 3, 9]]]),
    settings: convolution([filter([[1, 0, -1], [1, 0, -1], [1, 0, -1]])], 1, 0),
  },
  cs231n: {
    text: block(CS231N_X),
    settings: convolution([filter(CS231N_W0, 1), filter(CS231N_W1, 0)], 2, 1),
  },
};
