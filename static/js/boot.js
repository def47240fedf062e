// The page's first run, asked for as soon as the few small modules that describe it have loaded. index.html
// loads this module `async`, ahead of main.js: main.js and the ~30 modules it imports may still be on their way
// while the server computes the run and renders its map (named in the request). main.js imports the same starting
// state and the stream from here (a module runs once), so the two never disagree about what the page opens on; the
// stream holds what the server answers until main.js has attached its listeners and releases it.

import { buildRequest } from "./request.js";
import { sampleSource } from "./source-view.js";
import { DEFAULTS, fromHash } from "./state.js";
import { FrameStream } from "./stream.js";

/** What the server put in the page: samples, kernels, palettes, lessons (index.html's "initial-data"). */
export const initial = JSON.parse(document.getElementById("initial-data").textContent);
/** The settings a link's hash carries (empty when the page was opened without one). */
export const fromLink = fromHash(location.hash);
/** The state the page opens on: a link's, or the first sample with the defaults. */
export const firstState = { ...DEFAULTS, source: sampleSource(initial.samples[0]), ...fromLink };

/** The page's ws/animate stream, holding its messages until main.js releases it. */
export const stream = new FrameStream("ws/animate", { hold: true });
/** The first run's request as sent (null when the page opens on no single run: the layers, a tab). */
export const firstRequest = buildRequest(firstState);
if (firstRequest) {
  stream.open(firstRequest, { map: Math.max(firstState.map, 0), mode: firstState.displayMode, contrast: firstState.contrast });
}
