// Uploads: the Upload button, the file picker and a file dropped on the stage, with a progress bar.

import { ApiError, uploadImage } from "./api.js";
import { status } from "./status-view.js";

/** Wire the upload controls; `useImage(image)` gets the stored image's info once the server has it. */
export function bindUploads(document, useImage) {
  const $ = (id) => document.getElementById(id);
  async function upload(file) {
    const bar = $("upload-progress");
    bar.hidden = false;
    bar.firstElementChild.style.width = "0%";
    status(`uploading ${file.name}…`);
    try {
      const image = await uploadImage(file, (fraction) => { bar.firstElementChild.style.width = `${Math.round(fraction * 100)}%`; });
      useImage(image);
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
  const stage = document.querySelector(".stage");
  stage.addEventListener("dragover", (event) => { event.preventDefault(); $("drop-hint").hidden = false; });
  stage.addEventListener("dragleave", () => { $("drop-hint").hidden = true; });
  stage.addEventListener("drop", (event) => {
    event.preventDefault();
    $("drop-hint").hidden = true;
    const [file] = event.dataTransfer.files;
    if (file) upload(file);
  });
}
