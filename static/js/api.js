// The only caller of fetch (and of XMLHttpRequest, for upload progress). Returns plain data; throws ApiError.

/** An HTTP error with the server's {"detail": ...} message (and row/column for kernel text). */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail ?? `HTTP ${status}`);
    this.status = status;
    this.row = body?.row ?? null;
    this.column = body?.column ?? null;
  }
}

/**
 * The server names its URLs as paths from the app's root ("/api/runs/…/result.png"). The page may be served under
 * a prefix behind a proxy (its <base href> says where), so such a path is made relative to the base: "api/runs/…".
 * Other URLs (already relative, data:, blob:, //host) are kept.
 */
export const appUrl = (url) => (typeof url === "string" && url.startsWith("/") && !url.startsWith("//") ? url.slice(1) : url);

/** Every "url" and "*_url" in data from the server made relative to the page's base (in place; returns it). */
export function relativeUrls(value) {
  if (value === null || typeof value !== "object") return value;
  for (const [key, item] of Object.entries(value)) {
    if (key === "url" || key.endsWith("_url")) value[key] = appUrl(item);
    else if (item !== null && typeof item === "object") relativeUrls(item);
  }
  return value;
}

const controllers = new Map();

/** fetch with the server's error as an ApiError; a newer call with the same key aborts the older one. */
export async function request(key, url, options = {}) {
  controllers.get(key)?.abort(); // a newer call of the same kind makes the older one stale
  const controller = new AbortController();
  controllers.set(key, controller);
  const response = await fetch(appUrl(url), { ...options, signal: controller.signal });
  const body = relativeUrls(await response.json().catch(() => null));
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

/** POST /api/kernels/parse: typed text -> {kernel, shape}. */
export const parseKernel = (text) => request("parse", "api/kernels/parse", {
  method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text }),
});

/** GET a window of numbers of a run's padded input or result (for numbers in zoomed cells). */
export const region = (runId, which, channel, top, left, height, width) =>
  request(`region-${which}`, `api/runs/${runId}/region?which=${which}&channel=${channel}&top=${top}` +
    `&left=${left}&height=${height}&width=${width}`);

/** POST a typed matrix through the cheapest run (ReLU), so the dialog can keep it open when it is refused. */
export const checkMatrix = (text) => postJson("matrix-check", "api/run",
  { source: { matrix_text: text }, operation: { op: "relu" } });

/** GET whether the Fourier view can show a run, and if not, why. */
export const spectralAvailable = (runId) => request("spectral-available", `api/runs/${runId}/spectral/available`);

/** GET how a run's result is shown (mode, contrast, scale ends, true min and max) for the chosen options. */
export const displayOf = (runId, mode, contrast) =>
  request("display", `api/runs/${runId}/display?mode=${mode}&contrast=${contrast}`);

/**
 * Upload an image with progress; resolves to the stored image's info.
 * @param {File} file
 * @param {(fraction: number) => void} onProgress
 */
export function uploadImage(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "api/images");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try { body = relativeUrls(JSON.parse(xhr.responseText)); } catch { /* not JSON: reported by status */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, { detail: "the upload failed: is the server running?" })));
    const form = new FormData();
    form.append("file", file);
    xhr.send(form);
  });
}

const postJson = (key, url, body) => request(key, url, {
  method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
});

/** POST /api/chains: run a chain of layers on a source. */
/** A run's map picture as the stage shows it: map `map` coloured by the display mode and contrast. */
export const mapImageUrl = (run, map, displayMode, contrast) =>
  `${run.result_png_url}?channel=${map}&mode=${displayMode}&contrast=${contrast}`;

export const runChain = (body) => postJson("chain", "api/chains", body);

/** POST /api/train/{model_id}/backprop: one digit's forward pass, loss and backward pass, stepped. */
export const backprop = (modelId, body) => postJson("backprop", `api/train/${encodeURIComponent(modelId)}/backprop`, body);

/** POST /api/backprop/example: the same on a small example given whole ({} is "one gradient by hand"). */
export const backpropExample = (body) => postJson("backprop", "api/backprop/example", body);

/** POST a chain layer's run_url: that layer as a run to step through. */
export const openLayerRun = (url) => request("layer-run", url, { method: "POST" });

/** GET the Fourier-transform route of a convolution run. */
export const spectral = (runId) => request("spectral", `api/runs/${runId}/spectral`);

/** Start rendering a run as a GIF; resolves to {job_id, status_url, gif_url}. */
export const startGif = (runId) => request("gif", `api/runs/${runId}/gif`, { method: "POST" });

/** A background job's progress. */
export const jobStatus = (url) => request("job", url);
