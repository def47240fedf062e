// Composition root: makes the state, stream, player, stage and the views, and routes events between them.
// Each concern lives in its own view module; nothing here computes or paints.

import { firstRequest, firstState, fromLink, initial, stream } from "./boot.js"; // the first run, asked for already
import { captionFor } from "./caption.js";
import { bindControls, OP_DEFAULTS, showControls } from "./controls.js";
import { DisplayView } from "./display-view.js";
import { clearFieldErrors, KEY_CONTROLS, showFieldError } from "./field-errors.js";
import { FourierView } from "./fourier-view.js";
import { bindGifExport } from "./gif-view.js";
import { KernelEditor } from "./kernel-editor.js";
import { LayersView } from "./layers-view.js";
import { bindMatrixDialog } from "./matrix-view.js";
import { Player } from "./player.js";
import { bindPresentation } from "./present.js";
import { RunView } from "./run-view.js";
import { SourceView } from "./source-view.js";
import { StageView } from "./stage-view.js";
import { decides, getState, onChange, toHash, update } from "./state.js";
import { runShapes, status } from "./status-view.js";
import { dropKeptFrame, geometryOf, startStep } from "./step-policy.js";
import { TransportView } from "./transport-view.js";
import { bindUploads } from "./upload-view.js";

const $ = (id) => document.getElementById(id);
const HASH_DELAY_MS = 250;

const stage = new StageView(document);
const runView = new RunView(document, { stage, stream, palettes: initial.palettes, getState, update });
const player = new Player(stream, (frame, peek) => runView.paintFrame(frame, peek));
runView.attach(player);
const currentRun = () => runView.run;
const editor = new KernelEditor(document, initial.kernels, update, status);
const sources = new SourceView(document, initial.samples, update);
const display = new DisplayView(document, initial.palettes, currentRun, getState);
const fourier = new FourierView(document, currentRun);
const transport = new TransportView(document, { player, stream, stage, currentRun, getState, update });
const layers = new LayersView(document, { runView, player, sources, getState, update });
let tabsLoading = null;
/**
 * The Train tab (static/js/train/: its own form, socket and painters) and the Backprop tab (static/js/backprop/:
 * its steps open runs on the stage), loaded once the first map is on screen, or at once when a link opens one of
 * them: the first picture does not wait for twenty modules it does not use.
 */
function loadTabs() {
  tabsLoading ??= Promise.all([import("./train/train-view.js"), import("./backprop/backprop-view.js")])
    .then(([{ TrainView }, { BackpropView }]) => {
      new TrainView(document, initial, runView);
      new BackpropView(document, { runView }).show(getState());
      window.kernelLens.tabsLoaded = true;
      pauseIfHidden(); // a tab opened before its module came now hides the stage
    });
  return tabsLoading;
}
let lastChangedControl = null; // the control behind the latest request, where a refusal is shown
let coldStart = false; // opened without a link: play the first run row by row, unasked

bindPresentation(document, (on) => runView.setNumbersMax(on ? 64 : 40));
window.kernelLens = { getState, player, stage, firstMapAt: null, tabsLoaded: false }; // for benchmarks and tests: read-only
stage.addEventListener("imageloaded", (event) => {
  if (event.detail.which === "output" && window.kernelLens.firstMapAt === null) {
    requestAnimationFrame(() => { window.kernelLens.firstMapAt = performance.now(); }); // once it is on screen
    setTimeout(loadTabs, 0);
  }
  if (event.detail.which === "output") {
    requestAnimationFrame(() => { window.kernelLens.mapPainted = { at: performance.now(), url: event.detail.url }; });
  }
});
stage.addEventListener("error", (event) => status(event.detail.message, true));

function showCaption() {
  layers.showCaption($("caption"), captionFor(runView.run, layers.captionState(getState()), player.playing));
}

runView.addEventListener("frame", (event) => editor.showMap(event.detail.map)); // the step's filter in the editor
runView.addEventListener("run", (event) => {
  const run = event.detail;
  display.refresh();
  fourier.refresh();
  editor.render(getState(), run);
  status(`${run.op}: ${runShapes(run)}`);
  showCaption();
});

// --- the stream ---------------------------------------------------------------------------------
let shownGeometry = null; // what the run on stage walks over: a new operation or input starts at step 1
stream.addEventListener("opened", (event) => {
  clearFieldErrors(document);
  runView.showRun(event.detail.run);
  const run = runView.run;
  const lessonStep = layers.takePendingStep();
  const geometry = geometryOf(run, getState());
  const start = startStep(shownGeometry, geometry, event.detail.position, getState().step, run.frame_count);
  shownGeometry = geometry;
  if (lessonStep !== null) stream.seek(Math.min(lessonStep, run.frame_count - 1));
  else if (start !== null) {
    if (start !== event.detail.position) dropKeptFrame(stream, player, event.detail.position);
    stream.seek(start);
  }
  if (coldStart && run.frame_count > 1) {
    coldStart = false;
    if ($("output-canvas").checkVisibility()) transport.playRows(); // not if a tab that hides the stage came first
  }
});
stream.addEventListener("state", showCaption);
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
  sources.show(sources.first());
  update({ source: sources.first() });
});
stream.addEventListener("disconnected", () => status("connection lost: reconnecting…", true));

// --- state changes ------------------------------------------------------------------------------
let hashTimer = null;
function scheduleHash() {
  clearTimeout(hashTimer);
  // the whole URL: a bare "#..." resolves against the page's <base>, which would drop the Train tab's query
  hashTimer = setTimeout(() => history.replaceState(null, "", `${location.pathname}${location.search}${toHash(getState())}`),
    HASH_DELAY_MS);
}

/** The stage plays only while it is on screen: a tab that hides it (Train, a Backprop panel, the chain) pauses it. */
function pauseIfHidden() {
  if (player.playing && !$("output-canvas").checkVisibility()) player.pause();
}

onChange((state, changed) => {
  if (changed.size === 1 && changed.has("step")) { // a new frame: painted already; only the link follows it
    scheduleHash();
    return;
  }
  showControls(document, state);
  layers.changed(state, changed, decides("chain", changed));
  if (decides("editor", changed)) editor.render(state, runView.run);
  if (decides("run", changed)) {
    lastChangedControl = KEY_CONTROLS[[...changed].find((key) => KEY_CONTROLS[key])] ?? null;
    runView.requestRun();
  }
  if ((changed.has("displayMode") || changed.has("contrast")) && runView.run) {
    display.refresh();
    runView.repaint();
  }
  if (changed.has("map")) runView.showMap(state.map);
  if (changed.has("fitEach")) transport.showFit(stage, state.fitEach);
  if (changed.has("op") && (state.op === "train" || state.op === "backprop")) loadTabs();
  if (changed.has("op") || changed.has("openLayer")) queueMicrotask(pauseIfHidden); // once every view has followed
  showCaption();
  scheduleHash();
});

// --- controls -----------------------------------------------------------------------------------
bindControls(document, update);
for (const tab of document.querySelectorAll("[role=tab]")) {
  tab.addEventListener("click", () => update({ op: tab.dataset.op, ...OP_DEFAULTS[tab.dataset.op] }));
}
$("map-select").addEventListener("change", () => runView.selectMap(Number($("map-select").value)));
bindGifExport(document, currentRun);
bindUploads(document, (image) => {
  sources.show(null);
  update({ source: { kind: "image", imageId: image.id, name: image.name } });
});
bindMatrixDialog(document, () => getState().source, (text, example = {}) => {
  sources.show(null);
  update({ source: { kind: "matrix", text }, ...example });
});

// --- start: a shared link's settings, or the first sample ---------------------------------------
setTimeout(loadTabs, 4000); // even if no map ever loads (an image gone, a refused link)
coldStart = Object.keys(fromLink).length === 0;
runView.alreadySent(firstRequest);
update(firstState);
sources.show(getState().source);
transport.showSpeed();
showControls(document, getState());
stream.release(); // every listener is attached: what the server said meanwhile is handled now
