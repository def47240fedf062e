// The confusion matrix (the server's counts, rows = true digit, columns = predicted) and the validation digits
// the network gets wrong, with its probabilities. DOM painters; nothing is computed here.

import { formatNumber } from "../render/colors.js";

function node(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  Object.assign(element, props);
  element.append(...children);
  return element;
}

/** Paint a 10x10 confusion matrix as a table of numbers; right answers (diagonal) and mistakes tinted. */
export function drawConfusion(container, confusion) {
  if (!confusion) {
    container.replaceChildren(node("p", { className: "hint", textContent: "No validation digits: set a validation split above 0." }));
    return;
  }
  const head = node("tr", {}, node("th", { textContent: "" }), ...confusion.map((_, c) => node("th", { scope: "col", textContent: String(c) })));
  const body = node("tbody");
  confusion.forEach((row, r) => {
    body.append(node("tr", {}, node("th", { scope: "row", textContent: String(r) }), ...row.map((count, c) => node("td", {
      textContent: count ? String(count) : "·",
      className: r === c ? "hit" : count ? "miss" : "",
      title: `true ${r}, predicted ${c}: ${count}`,
    }))));
  });
  container.replaceChildren(node("table", { className: "confusion" }, node("thead", {}, head), body));
}

/** A 28x28 digit (values in [0, 1], ink bright) on a small canvas, magnified crisply by CSS. */
export function digitCanvas(digit) {
  const canvas = node("canvas", { width: digit[0].length, height: digit.length });
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(canvas.width, canvas.height);
  digit.forEach((row, r) => row.forEach((value, c) => {
    const i = (r * canvas.width + c) * 4;
    const level = Math.round(Math.min(Math.max(value, 0), 1) * 255);
    image.data[i] = level; image.data[i + 1] = level; image.data[i + 2] = level; image.data[i + 3] = 255;
  }));
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/**
 * The wrong validation digits: the digit, "true → said", and the probability of each.
 * @param {(index: number) => void} pick called with the validation index of a clicked digit
 */
export function drawWrong(container, wrong, pick) {
  if (!wrong.length) {
    container.replaceChildren(node("p", { className: "hint", textContent: "None wrong among the validation digits shown." }));
    return;
  }
  container.replaceChildren(...wrong.map((item) => {
    const said = item.probabilities[item.predicted];
    const truth = item.probabilities[item.label];
    const canvas = digitCanvas(item.digit);
    canvas.setAttribute("aria-hidden", "true");
    return node("button", {
      type: "button", className: "wrong-digit",
      title: `Validation digit ${item.index}: probabilities ${item.probabilities.map((p, d) => `${d}: ${formatNumber(p)}`).join(", ")}. Click to try it.`,
      ariaLabel: `Validation digit ${item.index}, a ${item.label} taken for a ${item.predicted}`,
      onclick: () => pick(item.index),
    }, canvas, node("span", { className: "wrong-said", textContent: `${item.label} → ${item.predicted}` }),
    node("span", { className: "wrong-p", textContent: `p(${item.predicted}) ${formatNumber(said)}` }),
    node("span", { className: "wrong-p", textContent: `p(${item.label}) ${formatNumber(truth)}` }));
  }));
}
