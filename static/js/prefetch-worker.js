// The page's first run and its two pictures, asked for off the main thread. boot.js starts this worker as soon as
// it knows the first request; the main thread is then busy for a few hundred ms with main.js' modules and the
// first layout, which would hold back any reply handled there. Here the pictures are asked for the moment the run
// is described, so the stage finds them in the browser's cache (their URLs are the run's, cached as immutable).
// Nothing is shown or computed here: a failure is left to the WebSocket, which asks again and says what went wrong.

import { mapImageUrl, relativeUrls } from "./api.js";

const base = new URL("../../", self.location.href); // this file is static/js/ under the page's base

self.addEventListener("message", async ({ data: { body, displayMode, contrast } }) => {
  try {
    const response = await fetch(new URL("api/run", base), {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    if (response.ok) {
      const run = relativeUrls(await response.json());
      const pictures = [mapImageUrl(run, 0, displayMode, contrast), run.padded_png_url];
      await Promise.all(pictures.map(async (url) => (await fetch(new URL(url, base))).arrayBuffer()));
    }
  } catch {
    // the stream asks again and says what went wrong
  }
  self.close();
});
