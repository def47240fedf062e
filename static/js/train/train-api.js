// The Train tab's HTTP calls (through api.js' request, the only caller of fetch). URLs are relative to the
// document, so the page works under a path prefix.

import { request } from "../api.js";

const post = (key, url, body) => request(key, url, {
  method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
});

/** POST api/train/summary: the chain a config trains, its shapes and parameters (422 with the reason). */
export const trainSummary = (config) => post("train-summary", "api/train/summary", config);

/** POST api/train/{model}/predict: one digit's probabilities, preparation steps and every layer's maps. */
export const predictDigit = (modelId, body) => post("train-predict", `api/train/${encodeURIComponent(modelId)}/predict`, body);

/** A server path ("/api/...") as a URL relative to the document. */
export const relative = (path) => (path && path.startsWith("/") ? path.slice(1) : path);
