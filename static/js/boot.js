// The page's first run, asked for as soon as the three small modules that describe it have loaded. index.html
// loads this module `async`, ahead of main.js: main.js and the ~30 modules it imports are still on their way
// while the server computes the run and renders its pictures (asked for by prefetch-worker.js). main.js imports
// the same starting state from here (a module runs once), so the two never disagree about what the page opens on.

import { buildRequest } from "./request.js";
import { sampleSource } from "./source-view.js";
import { DEFAULTS, fromHash } from "./state.js";

/** What the server put in the page: samples, kernels, palettes, lessons (index.html's "initial-data"). */
export const initial = JSON.parse(document.getElementById("initial-data").textContent);
/** The settings a link's hash carries (empty when the page was opened without one). */
export const fromLink = fromHash(location.hash);
/** The state the page opens on: a link's, or the first sample with the defaults. */
export const firstState = { ...DEFAULTS, source: sampleSource(initial.samples[0]), ...fromLink };

const firstRequest = buildRequest(firstState);
if (firstRequest) { // asked for off the main thread, which main.js' modules and the first layout keep busy
  const worker = new Worker(new URL("./prefetch-worker.js", import.meta.url), { type: "module" });
  worker.postMessage({ body: firstRequest, displayMode: firstState.displayMode, contrast: firstState.contrast });
}
