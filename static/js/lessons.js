// Lessons: presets that build a chain, open it on a chosen layer and step, with a short explanation.

const FIVE = "1 1 1 0 0\n0 1 1 1 0\n0 0 1 1 1\n0 0 1 1 0\n0 1 1 0 0";
const SIX = "3 0 1 2 7 4\n1 5 8 9 3 1\n2 7 2 5 1 3\n0 1 3 1 7 8\n4 2 1 6 2 8\n2 4 5 2 3 9";

function dots() {
  const rows = Array.from({ length: 32 }, () => Array(32).fill(0));
  rows[5][5] = 9; rows[5][7] = 9; // two dots close together: one cell after two pools
  rows[26][2] = 9; rows[26][29] = 9; // two dots far apart: columns 0 and 3 of the final 4x4, two cells between
  return rows.map((row) => row.join(" ")).join("\n");
}

/** laplace_8 divided by 8 inside a 7x7 frame of zeros: the size of the LoG kernel it sits beside, and values of
 * the LoG's order, so both maps share one colour scale and neither washes out. */
const LAPLACE_7 = Array.from({ length: 7 }, (_, r) => Array.from({ length: 7 }, (_, c) =>
  (r >= 2 && r <= 4 && c >= 2 && c <= 4 ? (r === 3 && c === 3 ? -1 : 0.125) : 0)));

/** A 9x9 matrix: a bright 4x4 square on black, small enough to see a stride-2 window jump. */
function square() {
  const rows = Array.from({ length: 9 }, (_, r) => Array.from({ length: 9 }, (_, c) => (r >= 2 && r < 6 && c >= 2 && c < 6 ? 9 : 0)));
  return rows.map((row) => row.join(" ")).join("\n");
}

function digitSeven() {
  const rows = Array.from({ length: 28 }, () => Array(28).fill(0));
  for (let c = 6; c < 22; c += 1) { rows[6][c] = 1; rows[7][c] = 1; } // ink 1 on 0, as MNIST's digits
  for (let r = 8; r < 23; r += 1) {
    const c = Math.round(21 - (r - 8) * 0.55);
    rows[r][c] = 1; rows[r][c - 1] = 1;
  }
  return rows.map((row) => row.join(" ")).join("\n");
}

const matrix = (text) => ({ kind: "matrix", text });

/** A chain request with the lesson's trained weights (e.g. "mnist-pretrained"), if it has any; else as it is. */
export const withLessonWeights = (request, lesson) => (request && lesson?.weights ? { ...request, weights: lesson.weights } : request);

/** name, title, text, source (null = the first sample, in gray), layers, and what to open. */
export const LESSONS = [
  { name: "five", title: "A 5×5 image and a 3×3 filter",
    text: "The classic textbook example: slide the X-shaped filter over the binary image. Each output cell is the sum of the nine products under the window, so 9 steps make the 3×3 feature map.",
    source: matrix(FIVE), layers: [{ type: "conv2d", filters: [[[1, 0, 1], [0, 1, 0], [1, 0, 1]]], use_bias: false }],
    open: { layer: 0, step: 0 } },
  { name: "sobel", title: "Sobel on a photo: vertical and horizontal edges, and their magnitude",
    text: "Sobel x responds where brightness changes from left to right (vertical edges), Sobel y from top to bottom; blue marks changes the other way. The magnitude √(gx² + gy²) combines both maps into one edge strength, whatever the direction.",
    source: { kind: "sample", name: "astronaut" }, color: "gray",
    layers: [{ type: "conv2d", filters: ["sobel_x", "sobel_y"], padding: 1, use_bias: false }, { type: "magnitude" }],
    open: null },
  { name: "laplace", title: "Laplace is noise-sensitive: blur first, or use LoG",
    text: "Map 1 is the raw Laplacian (laplace 8 ÷ 8, so both maps share a scale), a second derivative: it amplifies every speck of noise, and on this photo it flips sign between neighbouring pixels about 2 times in 5. Map 2 is the LoG kernel, which blurs with a Gaussian first: only about 1 in 5 flips, so the real edges stand out.",
    source: { kind: "sample", name: "astronaut" }, color: "gray",
    layers: [{ type: "conv2d", filters: [LAPLACE_7, "log"], padding: "same", use_bias: false }], open: null },
  { name: "stride", title: "Stride and padding: keeping or shrinking the size",
    text: "With padding 1 a 3×3 kernel keeps the size (layer 1: 9×9). With stride 2 and no padding the window jumps two pixels at a time, so layer 2 shrinks the map to 4×4: its second step, shown here, starts two columns right of the first.",
    source: matrix(square()),
    layers: [{ type: "conv2d", filters: ["sobel_x"], padding: 1, use_bias: false },
      { type: "conv2d", filters: ["box_blur"], strides: 2, padding: 0, use_bias: false }], open: { layer: 1, step: 1 } },
  { name: "depth", title: "Many filters make a deep output",
    text: "Each filter produces one feature map, so six filters give an output of depth 6. A colour input makes every filter 3 deep: it sums R, G and B products into one number per position.",
    source: { kind: "sample", name: "shapes" }, color: "rgb",
    layers: [{ type: "conv2d", filters: ["sobel_x", "sobel_y", "laplace_4", "sharpen", "emboss", "outline"], padding: 1 }],
    open: null },
  { name: "maxpool", title: "Max pooling picks the strongest response",
    text: "After an edge filter and ReLU, a 2×2 max pool keeps only the strongest response in each window: in the window shown, the largest of its unequal values wins. The map halves in size but the edges survive.",
    source: { kind: "sample", name: "shapes" }, color: "gray",
    layers: [{ type: "conv2d", filters: ["sobel_x"], padding: 1, use_bias: false }, { type: "activation", activation: "relu" },
      { type: "max_pool2d", pool_size: 2 }], open: { layer: 2, step: 1750 } },
  { name: "invariance", title: "Translation invariance from repeated pooling",
    text: "Two dots two pixels apart merge into one cell after two 2×2 max pools: the network stops caring exactly where they were. The two dots far apart stay separate to the end (the 4×4 map after three pools).",
    source: matrix(dots()), layers: [{ type: "max_pool2d", pool_size: 2 }, { type: "max_pool2d", pool_size: 2 },
      { type: "max_pool2d", pool_size: 2 }], open: null },
  { name: "back-up", title: "Going back up: 6×6 → 4×4 → 2×2 → 6×6",
    text: "A valid 3×3 convolution takes 6×6 to 4×4, a 2×2 max pool to 2×2. A transposed convolution with stride 3 stamps a 3×3 copy of the kernel for each pixel and brings it back to 6×6 (nearest up-sampling by 3 gives the same picture here).",
    source: matrix(SIX), layers: [{ type: "conv2d", filters: [[[1, 0, -1], [1, 0, -1], [1, 0, -1]]], use_bias: false },
      { type: "max_pool2d", pool_size: 2 },
      { type: "conv_transpose2d", filters: [[[1, 1, 1], [1, 1, 1], [1, 1, 1]]], strides: 3, use_bias: false }],
    open: { layer: 2, step: 0 } },
  { name: "mnist", title: "The classic MNIST network reads a drawn 7",
    text: "Keras' MNIST convnet on a 28×28 digit: three 3×3 convolutions and two pools take it to 3×3×64, then two dense layers to 10 class probabilities. Its 93,322 weights are trained (pretrained(\"mnist\"), 98.5% right on 2,000 digits it never saw), so the last layer's tallest bar is class 7. Open a convolution to step through it with the learned kernels.",
    source: matrix(digitSeven()), weights: "mnist-pretrained", layers: [
      { type: "conv2d", filters: 32, kernel_size: 3, activation: "relu" }, { type: "max_pool2d", pool_size: 2 },
      { type: "conv2d", filters: 64, kernel_size: 3, activation: "relu" }, { type: "max_pool2d", pool_size: 2 },
      { type: "conv2d", filters: 64, kernel_size: 3, activation: "relu" }, { type: "flatten" },
      { type: "dense", units: 64, activation: "relu" }, { type: "dense", units: 10, activation: "softmax" }],
    open: null },
];

/** The Backprop tab's lessons: name, title, text, the example to open ("by-hand" or "model") and the first step. */
export const BACKPROP_LESSONS = [
  { name: "by-hand", title: "One gradient by hand", example: "by-hand", step: "forward", learningRate: 0.1,
    text: "A 5×5 image of 0s and 1s, one 3×3 filter (the X of the first lesson) with bias −2.5 and ReLU, flattened to 9 numbers, then a dense layer to 2 classes: class 0's weights are a plus, class 1's half an X. The label is 1. Press Next to go forward and back: the scores, p = softmax, the loss −log p₁, dL/dz = p − y, dL/dx = W·(p − y) (0 where ReLU cut), then on the stage each dL/dW[i, j] as the sum of the input under the window times dL/dz, and dL/dX as stamps of the kernel. Every number is small enough to check on paper." },
];
