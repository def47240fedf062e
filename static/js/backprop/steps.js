// The Backprop tab's sequence of steps, made from the server's answer (POST .../backprop): the forward pass,
// the loss, dL/dlogits, every layer's backward step from last to first (a conv layer's dL/dW and dL/dX open on
// the stage as runs), and one optimizer step. Each step paints a panel or names a run; no number is made here.

import { formatNumber } from "../render/colors.js";
import { classTable, digitCanvas, figure, formula, node, norms, numberGrid, numberRow, shapeText } from "./panels.js";

const ONE_HOT = (count, label) => Array.from({ length: count }, (_, k) => (k === label ? 1 : 0));

function forwardPanel(data, openForward) {
  const box = node("div", { className: "bp-forward" });
  const small = data.digit.length <= 8;
  box.append(figure(`input ${shapeText([1, data.digit.length, data.digit[0].length])}`,
    small ? numberGrid(data.digit, { label: "input" }) : digitCanvas(data.digit)));
  const list = node("ol", { className: "bp-layers" });
  for (const layer of data.chain.layers) {
    const item = node("li", { className: "bp-layer" }, node("strong", { textContent: layer.name }),
      node("span", { className: "hint", textContent: ` ${shapeText(layer.output_shape)}` }));
    if (layer.values && layer.values.length <= 16) item.append(numberRow(layer.values));
    else if (layer.maps.length) {
      const strip = node("span", { className: "bp-thumbs" });
      for (const url of layer.maps.slice(0, 6)) strip.append(node("img", { src: url, alt: `${layer.name} map` }));
      item.append(strip);
    }
    if (layer.run_url && layer.type === "conv2d") {
      item.append(node("button", { type: "button", className: "button small", textContent: "Step it on the stage",
        title: `Open ${layer.name}'s forward pass on the stage: patch ⊙ kernel → Σ + bias`, onclick: () => openForward(layer) }));
    }
    list.append(item);
  }
  box.append(list);
  return box;
}

function lossPanel(data) {
  const count = data.probabilities.length;
  return node("div", { className: "bp-loss" },
    classTable([["logit z", data.logits], ["p = softmax(z)", data.probabilities, "strong"]], data.label, data.predicted),
    formula(`loss L = −log p[${data.label}] = −log `, data.probabilities[data.label], " = ", data.loss),
    node("p", { className: "hint", textContent: `label ${data.label} · the network's top class is ${data.predicted}` +
      ` · ${count} classes · ${data.mode} mode (dropout off, batch norm's averages)` }));
}

function gradLogitsPanel(data) {
  const onehot = ONE_HOT(data.probabilities.length, data.label);
  return node("div", { className: "bp-loss" },
    classTable([["p", data.probabilities], ["one-hot y", onehot], ["dL/dz = p − y", data.grad_logits, "strong"]],
      data.label, data.predicted),
    formula(`at the label: `, data.probabilities[data.label], " − 1 = ", data.grad_logits[data.label],
      " (the only negative one: raising z there lowers the loss)"));
}

function densePanel(layer, data) {
  const box = node("div", { className: "bp-dense" });
  const outer = layer.outer_product;
  const g = layer.grad_preactivation;
  if (layer.grad_output && g && JSON.stringify(layer.grad_output) !== JSON.stringify(g)) {
    box.append(figure("dL/dY (after the activation)", numberRow(layer.grad_output)),
      figure("dL/dz = dL/dY × activation′ (0 where ReLU cut)", numberRow(g)));
  } else if (g) box.append(figure(layer.index === data.layers.length - 1 ? "g = dL/dz (from the loss)" : "g = dL/dz", numberRow(g)));
  if (outer) {
    box.append(figure(`x: the layer's input ${shapeText(layer.input_shape)}`, numberRow(outer.x)));
    box.append(figure(`dL/dW = x ⊗ g: dL/dW[i, j] = x[i] · g[j] ${shapeText([outer.x.length, outer.g.length])}`,
      numberGrid(outer.grad_kernel, { label: "dL/dW" })));
    const i = outer.x.findIndex((value) => value !== 0);
    if (i >= 0) box.append(formula(`e.g. dL/dW[${i}, 0] = `, outer.x[i], " × ", outer.g[0], " = ", outer.grad_kernel[i][0]));
  }
  box.append(node("p", { className: "hint", textContent: "dL/dbias = g; dL/dX = W · g goes back to the layer below." }),
    norms(layer));
  return box;
}

function reshapePanel(layer, data) {
  const box = node("div", { className: "bp-dense" });
  if (layer.grad_output) box.append(figure(`dL/dY ${shapeText(layer.output_shape)}`, numberRow(layer.grad_output)));
  const below = data.layers[layer.index - 1];
  if (below?.grad_output && below.grad_output.length === 1) {
    box.append(figure(`dL/dX ${shapeText(layer.input_shape)}: the same numbers, back in their places`,
      numberGrid(below.grad_output[0])));
  }
  box.append(node("p", { className: "hint", textContent: `${layer.type}: nothing to learn; the gradient only changes shape` +
    ` ${shapeText(layer.output_shape)} → ${shapeText(layer.input_shape)}.` }), norms(layer));
  return box;
}

function reluPanel(layer) {
  const box = node("div", { className: "bp-dense" });
  const f = layer.weight_gradient?.filter ?? 0;
  if (layer.grad_output && layer.grad_preactivation) {
    box.append(figure(`dL/dY[${f}] (after ReLU)`, numberGrid(layer.grad_output[f])),
      figure(`dL/dz[${f}] = dL/dY × (z > 0)`, numberGrid(layer.grad_preactivation[f])));
  } else {
    box.append(node("p", { textContent: `dL/dY is ${shapeText(layer.output_shape)}: too many numbers to list here;` +
      " open dL/dW and dL/dX on the stage to step through them." }));
  }
  box.append(node("p", { className: "hint", textContent: "The activation passes the gradient where its input z was " +
    "positive and stops it (0) where ReLU cut. dL/dz is what the convolution's two gradients are made from." }),
  norms(layer));
  return box;
}

function poolPanel(layer, openRun) {
  const box = node("div", { className: "bp-dense" });
  const routing = layer.routing;
  if (!routing) {
    box.append(node("p", { textContent: "This pool's input is large: only its norms are given." }), norms(layer));
    return box;
  }
  const winners = new Set(routing.winners.flat().map(([r, c]) => `${r},${c}`));
  box.append(figure(`dL/dY, channel ${routing.channel} ${shapeText([routing.grad_output.length, routing.grad_output[0].length])}`,
    numberGrid(routing.grad_output)),
  figure(`dL/dX, channel ${routing.channel}: each window's gradient goes to its winner (outlined); the rest get 0`,
    numberGrid(routing.grad_input, { mark: (r, c) => winners.has(`${r},${c}`) })));
  const [r, c] = routing.winners[0][0];
  box.append(formula(`window [0, 0]: its maximum was at input [${r}, ${c}], so dL/dX[${r}, ${c}] gets `,
    routing.grad_output[0][0]));
  if (routing.run) {
    box.append(node("button", { type: "button", className: "button", textContent: "Step the pool's windows on the stage",
      title: "The pool's forward pass: each step shows a window and its winner", onclick: () => openRun(routing.run) }));
  }
  box.append(norms(layer));
  return box;
}

function sgdPanel(step, data) {
  const layer = data.layers[step.layer];
  // the worked example: the weight with the largest gradient (the one that moves most)
  let [i, j] = [0, 0];
  step.g.forEach((row, r) => row.forEach((value, c) => { if (Math.abs(value) > Math.abs(step.g[i][j])) [i, j] = [r, c]; }));
  return node("div", { className: "bp-dense" },
    node("div", { className: "bp-row" },
      figure(`w before: ${layer.name} kernel [${step.filter}, ${step.channel}]`, numberGrid(step.w_before)),
      node("span", { className: "bp-op", textContent: "−" }),
      figure("lr", node("span", { className: "bp-num bp-big", textContent: formatNumber(step.learning_rate) })),
      node("span", { className: "bp-op", textContent: "×" }),
      figure("g = dL/dW", numberGrid(step.g)),
      node("span", { className: "bp-op", textContent: "=" }),
      figure("w after", numberGrid(step.w_after))),
    formula(`w[${i}, ${j}]: `, step.w_before[i][j], " − ", step.learning_rate, " × ", step.g[i][j], " = ", step.w_after[i][j]),
    node("p", { className: "hint", textContent: "One step of plain gradient descent (SGD) on this kernel, made by the " +
      "engine's optimizer on a copy: the model is not changed. Each weight moves against its gradient." }));
}

/**
 * The steps for one answer. Each: {id, title, explain, panel?: () => Element, run?: RunLink, titles?: [input, output],
 *   layer?: the server's layer the step is about}.
 * `openForward(layer)` opens a chain layer's forward run; `openRun(link)` any run.
 */
export function buildSteps(data, { openForward, openRun }) {
  const steps = [
    { id: "forward", title: "Forward pass", panel: () => forwardPanel(data, openForward),
      explain: "The example goes through every layer; each keeps its output for the way back." },
    { id: "loss", title: "Loss", panel: () => lossPanel(data),
      explain: "Softmax turns the scores z into probabilities; the loss is −log of the label's probability." },
    { id: "logits", title: "dL/dlogits = softmax − one-hot", panel: () => gradLogitsPanel(data),
      explain: "The gradient of cross-entropy after softmax is simply p − y: the backward pass starts here." },
  ];
  for (const layer of [...data.layers].reverse()) {
    const where = `${layer.name} (layer ${layer.index + 1})`;
    const first = steps.length;
    if (layer.type === "dense") {
      steps.push({ id: `dense-${layer.index}`, title: `${where}: dL/dW = x ⊗ g`, panel: () => densePanel(layer, data),
        explain: "A dense layer's weight gradient is the outer product of its input x and the gradient g of its outputs." });
    } else if (layer.type === "conv2d") {
      const w = layer.weight_gradient;
      const x = layer.input_gradient;
      const [f, c] = [w.filter, w.channel];
      steps.push({ id: `relu-${layer.index}`, title: `${where}: back through the activation`,
        panel: () => reluPanel(layer), explain: "Before the convolution's gradients: dL/dY goes back through ReLU." });
      steps.push({ id: `dw-${layer.index}`, title: `${where}: dL/dW[${f}, ${c}] = x[${c}] ⋆ dL/dz[${f}]`, run: w.run,
        titles: [`x[${c}]: the layer's input, channel ${c}${w.padded ? " (padded)" : ""}`, `dL/dW[${f}, ${c}] ${shapeText(w.run.output_shape.slice(1))}`],
        explain: `The stage's kernel is dL/dz[${f}] ${shapeText(layer.output_shape.slice(1))}. Each step lays it on the input` +
          `${w.dilation.some((d) => d > 1) ? ` (spread by the stride ${w.dilation.join("×")})` : ""} and sums the products: one` +
          " weight's gradient. A sliding correlation, as the forward pass, with the gradient as the kernel." });
      steps.push({ id: `dx-${layer.index}`, title: `${where}: dL/dX = dL/dz ⊛ᵀ W`, run: x.run,
        titles: [`dL/dz ${shapeText(layer.output_shape)}`, `dL/dX ${shapeText(x.run.output_shape)}${x.crop ? " (padded)" : ""}`],
        explain: "Each step takes one number of dL/dz and stamps it times its kernel into dL/dX; overlapping stamps add " +
          `up: a transposed convolution with the layer's own weights.${x.crop ? ` dL/dX is the block at [${x.crop.join(", ")}]; the padding's part is dropped.` : ""}` });
    } else if (layer.type === "max_pool2d") {
      steps.push({ id: `pool-${layer.index}`, title: `${where}: to each window's winner`, panel: () => poolPanel(layer, openRun),
        explain: "A max pool has nothing to learn: each window's gradient goes to the input that won the window." });
    } else {
      steps.push({ id: `layer-${layer.index}`, title: `${where}: reshape`, panel: () => reshapePanel(layer, data),
        explain: `${layer.type} passes the gradient on.` });
    }
    for (const step of steps.slice(first)) step.layer = layer; // the header names the step's layer and shapes
  }
  if (data.step) {
    const layer = data.layers[data.step.layer];
    steps.push({ id: "sgd", title: `Optimizer step on ${layer.name} [${data.step.filter}, ${data.step.channel}]`,
      panel: () => sgdPanel(data.step, data), explain: "w ← w − lr · g: each weight moves a little against its gradient." });
  }
  return steps;
}
