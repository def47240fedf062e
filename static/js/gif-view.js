// The GIF export: ask the server to render the run, follow the job's progress, download the file.

import { ApiError, jobStatus, startGif } from "./api.js";
import { status } from "./status-view.js";

const POLL_MS = 200;

/** Wire the GIF button; `currentRun()` gives the run on stage (or null). */
export function bindGifExport(document, currentRun) {
  const $ = (id) => document.getElementById(id);
  $("gif-button").addEventListener("click", async () => {
    const run = currentRun();
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
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
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
}
