// The Layers view: the chain editor (cards in the sidebar), and on the stage the chain's feature-map
// thumbnails, dense outputs and the Keras-style summary. DOM painters plus input -> callbacks; no maths.

import { groupDigits } from "./render/colors.js";
import { drawLegend } from "./render/legend.js";

const TYPES = ["conv2d", "activation", "max_pool2d", "avg_pool2d", "sum_pool2d", "upsample", "conv_transpose2d",
  "flatten", "dense", "magnitude"];
const ACTIVATIONS = ["", "relu", "leaky_relu", "sigmoid", "tanh", "softmax"];
/** The options each layer type shows: [key, kind, tooltip]. */
const FIELDS = {
  conv2d: [["filters", "filters", "How many filters (random weights), or catalogue names separated by commas, e.g. sobel_x, sobel_y."],
    ["kernel_size", "number", "Side of each random kernel."], ["strides", "number", "Stride of the window."],
    ["padding", "padding", "valid, same, full or a number of pixels."], ["activation", "activation", "Applied after the sum and bias."]],
  conv_transpose2d: [["filters", "filters", "How many filters, or catalogue names."], ["kernel_size", "number", "Kernel side."],
    ["strides", "number", "How far apart the stamps land."], ["padding", "number", "Cropped off each side."],
    ["activation", "activation", "Applied after."]],
  max_pool2d: [["pool_size", "number", "Window side."], ["strides", "number", "Jump (empty: the window side)."]],
  avg_pool2d: [["pool_size", "number", "Window side."], ["strides", "number", "Jump (empty: the window side)."]],
  sum_pool2d: [["pool_size", "number", "Window side."], ["strides", "number", "Jump (empty: the window side)."]],
  upsample: [["size", "number", "Scale factor."], ["interpolation", "interpolation", "nearest or bilinear."]],
  activation: [["activation", "activation", "The function applied to every value."]],
  dense: [["units", "number", "Number of outputs."], ["activation", "activation", "softmax turns scores into probabilities."]],
  flatten: [],
  magnitude: [],
};
const DEFAULT_LAYER = {
  conv2d: { type: "conv2d", filters: 4, kernel_size: 3, padding: 1, activation: "relu" },
  conv_transpose2d: { type: "conv_transpose2d", filters: 1, kernel_size: 2, strides: 2 },
  max_pool2d: { type: "max_pool2d", pool_size: 2 }, avg_pool2d: { type: "avg_pool2d", pool_size: 2 },
  sum_pool2d: { type: "sum_pool2d", pool_size: 2 }, upsample: { type: "upsample", size: 2 },
  activation: { type: "activation", activation: "relu" }, flatten: { type: "flatten" },
  dense: { type: "dense", units: 10, activation: "softmax" },
  magnitude: { type: "magnitude" },
};

function node(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  Object.assign(element, props);
  element.append(...children);
  return element;
}

/** An image whose box has its picture's shape (`height` x `width` pixels) before the picture arrives: the CSS
 * sets only the height, so an unloaded image would otherwise be a 2 px sliver until it loads. */
function picture(props, height, width) {
  const image = node("img", props);
  image.style.aspectRatio = `${width} / ${height}`;
  return image;
}

function parseField(kind, text) {
  if (kind === "number") return text.trim() === "" ? undefined : Number(text);
  if (kind === "padding") return ["valid", "same", "full"].includes(text) ? text : Number(text);
  if (kind === "filters") {
    if (/^\s*\d+\s*$/.test(text)) return Number(text);
    return text.split(",").map((name) => name.trim()).filter(Boolean);
  }
  return text || undefined;
}

function fieldText(kind, value) {
  if (value === undefined || value === null) return "";
  if (kind === "filters" && Array.isArray(value)) {
    return value.map((item) => (typeof item === "string" ? item : "custom")).join(", ");
  }
  return String(value);
}

/** Draw the chain editor; `change(layers)` gets the edited list. */
export function drawChainEditor(container, layers, change) {
  container.replaceChildren();
  layers.forEach((layer, index) => {
    const head = node("div", { className: "card-head" },
      node("strong", { textContent: `${index + 1}. ${layer.type}` }));
    const move = (delta) => {
      const next = [...layers];
      const [item] = next.splice(index, 1);
      next.splice(index + delta, 0, item);
      change(next);
    };
    const buttons = [["↑", "Move up", () => move(-1), index === 0], ["↓", "Move down", () => move(1), index === layers.length - 1],
      ["✕", "Remove this layer", () => change(layers.filter((_, i) => i !== index)), layers.length === 1]];
    for (const [text, label, action, disabled] of buttons) {
      head.append(node("button", { type: "button", className: "button small", textContent: text, title: label,
        ariaLabel: `${label} (layer ${index + 1})`, disabled, onclick: action }));
    }
    const fields = node("div", { className: "row" });
    for (const [key, kind, tip] of FIELDS[layer.type]) {
      const label = node("label", { className: "field small", title: tip }, node("span", { textContent: key.replace("_", " ") }));
      let input;
      if (kind === "activation" || kind === "interpolation" || kind === "padding") {
        const options = kind === "activation" ? ACTIVATIONS : kind === "interpolation" ? ["nearest", "bilinear"]
          : ["valid", "same", "full", "0", "1", "2", "3"];
        input = node("select", {}, ...options.map((o) => new Option(o || "none", o)));
        input.value = fieldText(kind, layer[key] ?? (kind === "padding" ? "valid" : ""));
      } else {
        input = node("input", { type: kind === "number" ? "number" : "text", value: fieldText(kind, layer[key]) });
        if (kind === "number") input.min = "1";
      }
      input.setAttribute("aria-label", `Layer ${index + 1} ${key.replace("_", " ")}`);
      input.addEventListener("change", () => {
        const value = parseField(kind, input.value);
        const next = { ...layer };
        if (value === undefined) delete next[key];
        else next[key] = value;
        change(layers.map((item, i) => (i === index ? next : item)));
      });
      label.append(input);
      fields.append(label);
    }
    container.append(node("div", { className: "layer-card" }, head, fields));
  });
  const select = node("select", { ariaLabel: "Layer type to add" }, ...TYPES.map((type) => new Option(type, type)));
  const add = node("button", { type: "button", className: "button small", textContent: "Add layer",
    title: "Append a layer of this type to the chain",
    onclick: () => change([...layers, { ...DEFAULT_LAYER[select.value] }]) });
  container.append(node("div", { className: "row" }, select, add));
}

/**
 * Draw the chain on the stage: lesson text, the input's picture (`inputUrl`, when known), each layer's thumbnails
 * (click one to step through it), summary.
 */
export function drawChainStage(container, chain, lesson, openLayer, inputUrl = null) {
  container.replaceChildren();
  if (lesson) {
    container.append(node("div", { className: "lesson" }, node("h2", { textContent: lesson.title }),
      node("p", { textContent: lesson.text })));
  }
  if (!chain) {
    container.append(node("p", { className: "hint", textContent: "Computing the chain…" }));
    return;
  }
  const cards = node("div", { className: "chain-cards" });
  const input = node("div", { className: "chain-card input-card" }, node("div", { className: "card-head" },
    node("strong", { textContent: "input" }), node("span", { className: "hint", textContent: `(${chain.input_shape.join(", ")})` })));
  if (inputUrl) {
    const [height, width] = chain.input_shape.slice(-2);
    input.append(node("div", { className: "thumbs" }, picture({ src: inputUrl, alt: "the chain's input",
      title: "The input every layer starts from" }, height, width)));
  }
  cards.append(input);
  for (const layer of chain.layers) {
    const card = node("div", { className: "chain-card" });
    card.append(node("div", { className: "card-head" }, node("strong", { textContent: layer.name }),
      node("span", { className: "hint", textContent: `(${layer.output_shape.join(", ")}) · ${groupDigits(layer.params)} params` })));
    const strip = node("div", { className: "thumbs" });
    const [height, width] = layer.output_shape.slice(-2);
    layer.maps.forEach((url, k) => {
      const image = picture({ src: url, alt: `${layer.name} map ${k + 1}`, title: layer.steppable
        ? `Map ${k + 1}: click to step through how ${layer.name} computed it` : `Map ${k + 1}` }, height, width);
      image.loading = "lazy";
      if (layer.steppable) {
        const button = node("button", { type: "button", className: "thumb", ariaLabel: `Open ${layer.name} map ${k + 1} on the stage`,
          onclick: () => openLayer(layer.index, k) }, image);
        strip.append(button);
      } else strip.append(image);
    });
    const more = layer.output_shape.length === 3 && layer.output_shape[0] > layer.maps.length
      ? layer.output_shape[0] - layer.maps.length : 0;
    if (more) strip.append(node("span", { className: "hint", textContent: `+${more} more` }));
    if (layer.bars) {
      const bars = node("div", { className: "bars", role: "img", ariaLabel: `${layer.name} outputs` });
      layer.bars.forEach((fraction, i) => {
        const bar = node("div", { className: "bar-row" }, node("span", { textContent: String(i) }),
          node("div", { className: "bar" + (fraction < 0 ? " negative" : "") }),
          node("span", { className: "mono", textContent: layer.values[i].toPrecision(3) }));
        bar.children[1].style.width = `${Math.abs(fraction) * 100}%`;
        bars.append(bar);
      });
      strip.append(bars);
    }
    card.append(strip);
    if (layer.display) { // the server's colours for this layer's maps: scale ends, what they mean, true min and max
      const legend = node("div", { className: "legend chain-legend", ariaLabel: `${layer.name} colour scale` });
      drawLegend(legend, layer.display, { [layer.display.scheme]: layer.display.palette }, layer.display);
      card.append(legend);
    }
    cards.append(card);
  }
  container.append(cards);
  const table = node("table", { className: "summary" });
  table.append(node("thead", {}, node("tr", {}, ...["Layer (type)", "Output shape (C, H, W)", "Param #"].map(
    (text) => node("th", { textContent: text })))));
  const body = node("tbody");
  for (const layer of chain.layers) {
    body.append(node("tr", {}, node("td", { textContent: `${layer.name} (${layer.type})` }),
      node("td", { textContent: `(${layer.output_shape.join(", ")})` }),
      node("td", { textContent: groupDigits(layer.params) })));
  }
  table.append(body, node("tfoot", {}, node("tr", {}, node("td", { textContent: "Total params" }), node("td"),
    node("td", { textContent: groupDigits(chain.total_params) }))));
  container.append(table);
  const exports = node("div", { className: "row" },
    node("a", { className: "button small", href: chain.pytorch_url, download: "kernel_lens_pytorch.py", textContent: "PyTorch code",
      title: "The same layers and weights as PyTorch code: paste it in a notebook and get the same numbers" }),
    node("a", { className: "button small", href: chain.keras_url, download: "kernel_lens_keras.py", textContent: "Keras code",
      title: "The same layers and weights as Keras code (channels last)" }),
    node("span", { className: "hint", textContent: "Click a map to step through how its layer computed it." }));
  container.append(exports);
}
