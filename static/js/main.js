// Composition root: wires state, api, stream, player, controls, kernel editor and painters.

import { captionFor } from "./caption.js";
import { ApiError, checkMatrix, displayOf, jobStatus, spectralAvailable, openLayerRun, runChain, spectral, startGif, uploadImage } from "./api.js";
import { drawChainEditor, drawChainStage } from "./chain-view.js";
import { LESSONS } from "./lessons.js";
import { bindControls, OP_DEFAULTS, showControls } from "./controls.js";
import { KernelEditor } from "./kernel-editor.js";
import { Player } from "./player.js";
import { drawCalc, describeFrame } from "./render/calc.js";
import { formatNumber } from "./render/colors.js";
import { clearFieldErrors, KEY_CONTROLS, showFieldError } from "./field-errors.js";
import { TextFitter } from "./fit-text.js";
import { bindPresentation } from "./present.js";
import { drawLegend } from "./render/legend.js";
import { buildChainRequest, buildRequest } from "./request.js";
import { StageView } from "./stage-view.js";
import { DEFAULTS, fromHash, getState, onChange, toHash, update } from "./state.js";
import { FrameStream } from "./stream.js";

const $ = (id) => document.getElementById(id);
const initial = JSON.parse($("initial-data").textContent);
const PRESETS = {
  five: "1 1 1 0 0\n0 1 1 1 0\n0 0 1 1 1\n0 0 1 1 0\n0 1 1 0 0",
  six: "3 0 1 2 7 4\n1 5 8 9 3 1\n2 7 2 5 1 3\n0 1 3 1 7 8\n4 2 1 6 2 8\n2 4 5 2 3 9",
};
const REQUEST_KEYS = new Set(["source", "color", "op", "filters", "depthwise", "stride", "paddingKind", "padding",
  "paddingMode", "dilation", "outputPadding", "activation", "slope", "poolKind", "poolSize", "ceilMode", "includePad",
  "scale", "upsampleMode", "alignCorners", "flip"]);

const MODE_NAMES = { signed: "signed", abs: "|value|", gray: "gray", photo: "as a photo" };
const stream = new FrameStream();
const stage = new StageView(document);
let run = null;
let frame = null;
let lastRequest = "";
let partialTimer = null;
let chain = null;
let lastChain = "";
let pendingStep = null; // a lesson's step, sought once its layer is open
let lastChangedControl = null; // the control behind the latest request, where a refusal is shown
let coldStart = false; // opened without a link: play the first run row by row, unasked

function status(message, isError = false) {
  $("status").textContent = message;
  $("status").classList.toggle("error-state", isError);
}

const calcFitter = new TextFitter($("calc-body"), { min: 9, max: 40 });
bindPresentation(document, (on) => calcFitter.setMax(on ? 64 : 40));
const editor = new KernelEditor(document, initial.kernels, update, status);
const player = new Player(stream, paintFrame);
window.kernelLens = { getState, player, stage, firstMapAt: null }; // for benchmarks and tests: read-only handles
stage.addEventListener("imageloaded", (event) => {
  if (event.detail.which === "output" && window.kernelLens.firstMapAt === null) {
    requestAnimationFrame(() => { window.kernelLens.firstMapAt = performance.now(); }); // once it is on screen
  }
});

function shownMap(state, current) {
  if (!run) return 0;
  const maps = run.output_shape.length === 3 ? run.output_shape[0] : 1;
  const wanted = state.map >= 0 ? state.map : current?.output_index ? current.output_index.data[0] : 0;
  return Math.min(wanted, maps - 1);
}

function revealFor(current, map) {
  if (!current) return { kind: "none" };
  if (current.contribution) return { kind: "all" }; // a transposed conv shows its partial output whole
  const [f, row, col] = current.output_index.data;
  if (map < f) return { kind: "all" };
  if (map > f) return { kind: "none" };
  return { kind: "upto", row, col };
}

function outputImageUrl(map, current) {
  if (run.op === "conv_transpose2d") {
    return current ? `/api/runs/${run.run_id}/partial.png?index=${current.index}&channel=${map}` : null;
  }
  const state = getState(); // "auto" is resolved by the server, so the picture need not wait for /display
  return `${run.result_png_url}?channel=${map}&mode=${state.displayMode}&contrast=${state.contrast}`;
}

/** The Fourier view's button: enabled only where it works, otherwise disabled with the server's reason. */
async function refreshFourier() {
  const shown = run;
  const button = $("fourier-button");
  if (shown.op !== "conv2d") return;
  try {
    const answer = await spectralAvailable(shown.run_id);
    if (run !== shown) return;
    button.disabled = !answer.available;
    const reason = answer.reason ?? "";
    $("fourier-reason").textContent = answer.available ? "" : `${reason.charAt(0).toUpperCase()}${reason.slice(1)}.`;
  } catch (error) {
    if (error.name !== "AbortError") status(error.message, true);
  }
}

/** Ask the server how to show this run's result (the chosen mode and contrast, or the kernel's default). */
async function refreshDisplay() {
  const shown = run;
  const transposed = shown.op === "conv_transpose2d"; // its partial outputs keep the final result's scale
  $("display-mode").disabled = transposed;
  $("contrast").disabled = transposed;
  if (transposed) {
    $("display-mode").options[0].textContent = "auto";
    $("contrast").options[0].textContent = "auto";
    drawLegend($("legend"), shown.display, initial.palettes, shown.stats);
    return;
  }
  const state = getState();
  try {
    const view = await displayOf(shown.run_id, state.displayMode, state.contrast);
    if (run !== shown) return;
    run.view = view;
  } catch (error) {
    if (error.name !== "AbortError") status(error.message, true);
    return;
  }
  $("display-mode").options[0].textContent = `auto: ${MODE_NAMES[run.view.mode]}`;
  $("contrast").options[0].textContent = `auto: ${run.view.contrast === "full" ? "full range" : "percentile"}`;
  drawLegend($("legend"), run.view, initial.palettes, run.view);
}

function paintFrame(current, peek) {
  const state = getState();
  if (!run) return;
  if (!peek) {
    frame = current;
    update({ step: current.index });
  }
  const map = shownMap(state, frame);
  stage.channel = map;
  $("download-png").href = outputImageUrl(map, null) ?? `${run.result_png_url}?channel=${map}`;
  stage.hover = peek ? current : null;
  if (run.op === "conv_transpose2d") {
    // the partial output changes every step: refresh it at most ~8 times a second while playing
    if (!partialTimer) {
      partialTimer = setTimeout(() => {
        partialTimer = null;
        stage.setImage("output", outputImageUrl(shownMap(getState(), frame), frame));
      }, player.playing ? 120 : 0);
    }
  } else {
    stage.setImage("output", outputImageUrl(map, frame));
  }
  stage.follow = state.follow;
  stage.setFrame(frame, revealFor(frame, map));
  const shown = peek ? current : frame;
  drawCalc($("calc-body"), shown, run, initial.palettes, map);
  calcFitter.fit(`${run.run_id}:${$("calc-body").getElementsByTagName("span").length}`);
  $("calc-title").textContent = peek ? "Hovered step" : `Step ${(shown.index + 1).toLocaleString()}`;
  $("calc-where").textContent = describeFrame(shown);
  $("counter").textContent = `step ${(frame.index + 1).toLocaleString()} of ${run.frame_count.toLocaleString()}`;
  if (document.activeElement !== $("scrub")) $("scrub").value = String(frame.index);
}

function showRun(described) {
  run = { ...described, source_kind: getState().source?.kind };
  const g = run.geometry;
  $("formula-rows").textContent = run.formula.rows;
  $("formula-cols").textContent = run.formula.cols;
  $("input-title").textContent = `Input ${run.input_shape.join("×")}`;
  const pads = g.pads.some((p) => p > 0) ? ` (+ padding ${g.pads.join("/")}${run.op === "conv2d" ? `, ${getState().paddingMode}` : ""})` : "";
  $("input-note").textContent = pads;
  $("output-title").textContent = `Output ${run.output_shape.join("×")}`;
  $("scrub").max = String(Math.max(run.frame_count - 1, 0));
  $("download-png").href = `${run.result_png_url}?channel=${Math.max(getState().map, 0)}`;
  $("download-npy").href = run.result_npy_url;
  $("export-pytorch").href = `/api/runs/${run.run_id}/export?framework=pytorch`;
  $("export-keras").href = `/api/runs/${run.run_id}/export?framework=keras`;
  const difference = run.comparison?.max_difference_from_cross_correlation;
  $("flip-note").textContent = difference === undefined ? ""
    : `True convolution differs from cross-correlation by up to ${formatNumber(difference)} here.`;
  const maps = run.output_shape.length === 3 ? run.output_shape[0] : 1;
  const select = $("map-select");
  select.replaceChildren(new Option("follow the step", "-1"),
    ...Array.from({ length: maps }, (_, i) => new Option(`map ${i + 1}`, String(i))));
  select.value = String(Math.min(getState().map, maps - 1));
  refreshDisplay();
  refreshFourier();
  stage.setRun(run);
  stage.inputChannel = 0;
  editor.render(getState(), run);
  status(`${run.op}: ${run.input_shape.join("×")} → ${run.output_shape.join("×")}, ${run.frame_count.toLocaleString()} steps`);
  showCaption();
}

function showCaption() {
  $("caption").textContent = captionFor(run, getState(), player.playing);
}

/** Play row by row (about 20 output rows a second), so a whole map fills in seconds, not hours. */
function playRows() {
  if (!run) return;
  setSpeed(Math.log10(Math.max(getState().speed, run.geometry.out_shape[1] * 20)));
  $("speed").value = String(Math.log10(getState().speed));
  player.play(getState().speed);
}

// --- the stream ---------------------------------------------------------------------------------
stream.addEventListener("opened", (event) => {
  clearFieldErrors(document);
  showRun(event.detail.run);
  if (pendingStep !== null) {
    stream.seek(Math.min(pendingStep, run.frame_count - 1));
    pendingStep = null;
  } else if (event.detail.position < 0) stream.seek(Math.max(0, Math.min(getState().step, run.frame_count - 1)));
  if (coldStart && run.frame_count > 1) {
    coldStart = false;
    playRows();
  }
});
stream.addEventListener("state", (event) => {
  $("play").textContent = event.detail.playing ? "❚❚" : "▶";
  $("play").setAttribute("aria-label", event.detail.playing ? "Pause" : "Play");
  showCaption();
});
stream.addEventListener("error", (event) => {
  const source = getState().source;
  if (event.detail.status !== 404 || source?.kind !== "image" || source.imageId === initial.samples[0].id) {
    const control = showFieldError(document, event.detail.detail, getState().op, lastChangedControl);
    status(control ? "Refused: the message is next to the setting (the last valid run stays on stage)"
      : event.detail.detail, true);
    return;
  }
  // the image is gone (evicted or from an old link): say so, show the first sample, offer a new upload
  const notice = `${event.detail.detail}. Showing the first sample meanwhile.`;
  stream.addEventListener("opened", () => status(notice, true), { once: true });
  $("sample").value = initial.samples[0].id;
  update({ source: { kind: "image", imageId: initial.samples[0].id, name: initial.samples[0].name } });
});
stream.addEventListener("disconnected", () => status("connection lost: reconnecting…", true));
stage.addEventListener("error", (event) => status(event.detail.message, true));
stage.addEventListener("zoom", (event) => {
  $("zoom-level").textContent = event.detail.zoom === 1 ? "fit" : `${Math.round(event.detail.zoom * 100)}%`;
});

let hoverTimer = null;
stage.addEventListener("hovercell", (event) => {
  clearTimeout(hoverTimer);
  const target = event.detail;
  if (!target || !run) {
    stage.hover = null;
    if (frame) paintFrame(frame, false);
    return;
  }
  hoverTimer = setTimeout(() => {
    const position = positionOf(target);
    if (position) stream.peek(position);
  }, 40);
});
stage.addEventListener("pickcell", (event) => {
  const position = event.detail && positionOf(event.detail);
  if (!position) return;
  player.pause();
  stream.seekPosition(position);
});

/** The frame a clicked cell names: an output pixel, or (transposed conv) an input pixel. */
function positionOf({ which, cell }) {
  const g = run.geometry;
  if (run.op === "conv_transpose2d") {
    if (which !== "input") return null;
    const [r, c] = [cell[0] - g.pads[0], cell[1] - g.pads[2]];
    return r >= 0 && c >= 0 && r < g.in_shape[0] && c < g.in_shape[1] ? [r, c] : null;
  }
  if (which !== "output") return null;
  return [shownMap(getState(), frame), cell[0], cell[1]];
}

// --- state changes ------------------------------------------------------------------------------
let requestTimer = null;
let hashTimer = null;
const EDITOR_KEYS = new Set(["filters", "filterIndex", "depthwise", "op", "color", "source"]);
const CHAIN_KEYS = new Set(["source", "color", "chainLayers", "chainSeed", "op"]);
function scheduleHash() {
  clearTimeout(hashTimer);
  hashTimer = setTimeout(() => history.replaceState(null, "", toHash(getState())), 250);
}

onChange((state, changed) => {
  if (changed.size === 1 && changed.has("step")) { // a new frame: painted already; only the link follows it
    scheduleHash();
    return;
  }
  showControls(document, state);
  if (changed.has("chainLayers") || changed.has("op")) drawChainEditor($("chain-editor"), state.chainLayers, changeChain);
  if (changed.has("lesson") || changed.has("op")) markLesson(state.lesson);
  if (state.op === "layers") {
    if ([...changed].some((key) => CHAIN_KEYS.has(key))) refreshChain();
    else if (changed.has("openLayer") && state.openLayer >= 0) showLayer(state.openLayer);
  }
  if ([...changed].some((key) => EDITOR_KEYS.has(key))) editor.render(state, run);
  if ([...changed].some((key) => REQUEST_KEYS.has(key))) {
    lastChangedControl = KEY_CONTROLS[[...changed].find((key) => KEY_CONTROLS[key])] ?? null;
    clearTimeout(requestTimer);
    requestTimer = setTimeout(() => {
      const request = buildRequest(getState());
      const text = JSON.stringify(request);
      if (request && text !== lastRequest) {
        lastRequest = text;
        stream.open(request);
      }
    }, 120);
  }
  if ((changed.has("displayMode") || changed.has("contrast")) && run) {
    refreshDisplay();
    if (frame) paintFrame(frame, false);
  }
  if (changed.has("map") && frame) paintFrame(frame, false);
  scheduleHash();
});

// --- the Layers view -----------------------------------------------------------------------------
function changeChain(layers) {
  update({ chainLayers: layers, lesson: null });
}

function lessonNamed(name) {
  return LESSONS.find((lesson) => lesson.name === name) ?? null;
}

async function refreshChain() {
  const state = getState();
  const request = buildChainRequest(state);
  const text = JSON.stringify(request);
  if (!request) return;
  if (text === lastChain && chain) {
    if (state.openLayer >= 0) showLayer(state.openLayer);
    return;
  }
  lastChain = text;
  chain = null;
  const openOnStage = (index, map) => update({ openLayer: index, map });
  drawChainStage($("chain-view"), null, lessonNamed(state.lesson), openOnStage);
  try {
    chain = await runChain(request);
  } catch (error) {
    if (error.name === "AbortError") return;
    if (!(error instanceof ApiError)) throw error;
    status(error.message, true);
    return;
  }
  drawChainStage($("chain-view"), chain, lessonNamed(getState().lesson), openOnStage);
  status(`chain of ${chain.layers.length} layers: ${chain.total_params.toLocaleString()} parameters`);
  if (getState().openLayer >= 0) showLayer(getState().openLayer);
}

async function showLayer(index) {
  const layer = chain?.layers[index];
  if (!layer) return;
  if (!layer.run_url) {
    status(`${layer.name} has no steps to show: it reshapes or mixes everything`, true);
    update({ openLayer: -1 });
    return;
  }
  try {
    const described = await openLayerRun(layer.run_url);
    lastRequest = "";
    stream.openRun(described.run_id);
  } catch (error) {
    if (error.name !== "AbortError") status(error.message, true);
  }
}

function markLesson(name) {
  for (const button of $("lessons").children) button.setAttribute("aria-pressed", String(button.dataset.lesson === name));
}

for (const lesson of LESSONS) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = lesson.title;
  button.title = lesson.text;
  button.dataset.lesson = lesson.name;
  button.addEventListener("click", () => {
    const sample = lesson.source.kind === "sample" ? initial.samples.find((s) => s.name === lesson.source.name) : null;
    pendingStep = lesson.open ? lesson.open.step : null;
    $("sample").value = sample ? sample.id : "custom";
    update({
      op: "layers", source: sample ? { kind: "image", imageId: sample.id, name: sample.name } : lesson.source,
      color: lesson.color ?? "rgb", chainLayers: lesson.layers, chainSeed: 0, lesson: lesson.name,
      openLayer: lesson.open ? lesson.open.layer : -1, map: -1,
    });
  });
  $("lessons").append(button);
}
$("back-to-chain").addEventListener("click", () => { player.pause(); update({ openLayer: -1 }); });

// --- Fourier view, GIF ----------------------------------------------------------------------------
$("fourier-button").addEventListener("click", async () => {
  if (!run) return;
  try {
    const route = await spectral(run.run_id);
    for (const name of ["image", "kernel", "product", "result"]) $(`spectrum-${name}`).src = route[`${name}_url`];
    $("fourier-difference").textContent = `largest difference from the direct result: ${route.max_difference.toExponential(2)} ` +
      `(values up to ${formatNumber(route.largest_value)}; grid ${route.grid.join("×")}, no wrap-around)`;
    $("fourier-dialog").showModal();
  } catch (error) {
    if (error.name !== "AbortError") status(error.message, true);
  }
});

$("gif-button").addEventListener("click", async () => {
  if (!run) return;
  const bar = $("upload-progress");
  bar.hidden = false;
  bar.firstElementChild.style.width = "0%";
  status("rendering the GIF…");
  try {
    const job = await startGif(run.run_id);
    let state = await jobStatus(job.status_url);
    while (!state.done) {
      bar.firstElementChild.style.width = `${Math.round(state.progress * 100)}%`;
      await new Promise((resolve) => setTimeout(resolve, 200));
      state = await jobStatus(job.status_url);
    }
    if (state.detail) throw new ApiError(422, state);
    const link = document.createElement("a");
    link.href = state.gif_url;
    link.download = "kernel-lens.gif";
    document.body.append(link);
    link.click();
    link.remove();
    status("GIF ready: downloaded as kernel-lens.gif");
  } catch (error) {
    if (error.name !== "AbortError") status(`The GIF could not be made: ${error.message}`, true);
  } finally {
    bar.hidden = true;
  }
});

// --- controls -----------------------------------------------------------------------------------
bindControls(document, update);
for (const sample of initial.samples) $("sample").append(new Option(sample.title, sample.id));
$("sample").append(new Option("(your upload or matrix)", "custom"));
$("sample").addEventListener("change", () => {
  const sample = initial.samples.find((s) => s.id === $("sample").value);
  if (sample) update({ source: { kind: "image", imageId: sample.id, name: sample.name } });
});
for (const radio of document.querySelectorAll("input[name=color]")) {
  radio.addEventListener("change", () => update({ color: radio.value }));
}
for (const tab of document.querySelectorAll("[role=tab]")) {
  tab.addEventListener("click", () => update({ op: tab.dataset.op, ...OP_DEFAULTS[tab.dataset.op] }));
}
$("map-select").addEventListener("change", () => update({ map: Number($("map-select").value) }));

$("play").addEventListener("click", () => player.toggle());
$("step-forward").addEventListener("click", () => { player.pause(); stream.step(1); });
$("step-back").addEventListener("click", () => { player.pause(); stream.step(-1); });
$("row-forward").addEventListener("click", () => { player.pause(); stream.stepRows(1); });
$("row-back").addEventListener("click", () => { player.pause(); stream.stepRows(-1); });
$("to-start").addEventListener("click", () => { player.pause(); stream.seek(0); });
$("to-end").addEventListener("click", () => { player.pause(); stream.seek(run ? run.frame_count - 1 : 0); });
$("fill-all").addEventListener("click", () => { player.pause(); stream.seek(run ? run.frame_count - 1 : 0); });
$("fill-rows").addEventListener("click", playRows);
$("scrub").addEventListener("input", () => { player.pause(); stream.seek(Number($("scrub").value)); });

function setSpeed(exponent) {
  const speed = Math.max(1, Math.round(10 ** exponent));
  $("speed-value").textContent = `${speed.toLocaleString()}/s`;
  update({ speed });
  if (player.playing) player.play(speed);
  else player.speed = speed;
}
$("speed").addEventListener("input", () => setSpeed(Number($("speed").value)));

$("zoom-in").addEventListener("click", () => stage.setZoom(stage.zoom * 2));
$("zoom-out").addEventListener("click", () => stage.setZoom(stage.zoom / 2));
$("zoom-fit").addEventListener("click", () => stage.setZoom(1, [0.5, 0.5]));

document.addEventListener("keydown", (event) => {
  if (event.target.closest("input, textarea, select, dialog") && event.target.type !== "range") return;
  const actions = {
    " ": () => player.toggle(),
    ArrowRight: () => (event.shiftKey ? $("row-forward") : $("step-forward")).click(),
    ArrowLeft: () => (event.shiftKey ? $("row-back") : $("step-back")).click(),
    Home: () => $("to-start").click(),
    p: () => $("present").click(),
    P: () => $("present").click(),
    End: () => $("to-end").click(),
  };
  if (actions[event.key]) {
    event.preventDefault();
    actions[event.key]();
  }
});

// --- input: upload, drop, matrix ----------------------------------------------------------------
async function upload(file) {
  const bar = $("upload-progress");
  bar.hidden = false;
  bar.firstElementChild.style.width = "0%";
  status(`uploading ${file.name}…`);
  try {
    const image = await uploadImage(file, (fraction) => { bar.firstElementChild.style.width = `${Math.round(fraction * 100)}%`; });
    $("sample").value = "custom";
    update({ source: { kind: "image", imageId: image.id, name: image.name } });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    status(`That file could not be used: ${error.message}`, true);
  } finally {
    bar.hidden = true;
  }
}
$("upload-button").addEventListener("click", () => $("file-input").click());
$("file-input").addEventListener("change", () => {
  const [file] = $("file-input").files;
  if (file) upload(file);
  $("file-input").value = "";
});
const stageElement = document.querySelector(".stage");
stageElement.addEventListener("dragover", (event) => { event.preventDefault(); $("drop-hint").hidden = false; });
stageElement.addEventListener("dragleave", () => { $("drop-hint").hidden = true; });
stageElement.addEventListener("drop", (event) => {
  event.preventDefault();
  $("drop-hint").hidden = true;
  const [file] = event.dataTransfer.files;
  if (file) upload(file);
});
$("matrix-button").addEventListener("click", () => {
  const source = getState().source;
  $("matrix-text").value = source?.kind === "matrix" ? source.text : PRESETS.five;
  $("matrix-dialog").showModal();
});
for (const button of document.querySelectorAll("[data-preset]")) {
  button.addEventListener("click", () => { $("matrix-text").value = PRESETS[button.dataset.preset]; });
}
$("matrix-form").addEventListener("submit", async (event) => {
  if (event.submitter?.value !== "apply") return;
  event.preventDefault(); // the dialog stays open until the server has read the matrix
  const text = $("matrix-text").value;
  try {
    await checkMatrix(text);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    $("matrix-error").textContent = error.message;
    markToken($("matrix-text"), error.row, error.column);
    return;
  }
  $("matrix-error").textContent = "";
  $("matrix-dialog").close("apply");
});

/** Select the typed number at (row, column), 1-based over non-empty rows as the server counts them. */
function markToken(area, row, column) {
  if (!row) return;
  let offset = 0;
  let seen = 0;
  for (const line of area.value.split(/([;\n])/)) {
    if (line !== ";" && line !== "\n" && line.trim()) seen += 1;
    if (seen === row && line.trim()) {
      const tokens = [...line.matchAll(/[^\s,]+/g)];
      const token = tokens[Math.min(column ?? 1, tokens.length) - 1] ?? tokens.at(-1);
      const start = offset + (token ? token.index : line.length);
      const end = token && column <= tokens.length ? start + token[0].length : offset + line.length;
      area.focus();
      area.setSelectionRange(start, end);
      area.setAttribute("aria-invalid", "true");
      return;
    }
    offset += line.length;
  }
}
$("matrix-text").addEventListener("input", () => {
  $("matrix-error").textContent = "";
  $("matrix-text").removeAttribute("aria-invalid");
});
$("matrix-dialog").addEventListener("close", () => {
  if ($("matrix-dialog").returnValue !== "apply") return;
  $("sample").value = "custom";
  update({ source: { kind: "matrix", text: $("matrix-text").value } });
});

// --- start: a shared link's settings, or the first sample ---------------------------------------
const fromLink = fromHash(location.hash);
coldStart = Object.keys(fromLink).length === 0;
const firstSample = initial.samples[0];
update({
  ...DEFAULTS,
  source: { kind: "image", imageId: firstSample.id, name: firstSample.name },
  ...fromLink,
});
const linked = getState().source;
$("sample").value = linked?.kind === "image" && initial.samples.some((s) => s.id === linked.imageId) ? linked.imageId : "custom";
$("speed").value = String(Math.log10(getState().speed));
$("speed-value").textContent = `${getState().speed.toLocaleString()}/s`;
player.speed = getState().speed;
showControls(document, getState());
