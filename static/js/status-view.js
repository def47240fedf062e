// The status line: one short message, marked when it reports a problem.

const line = () => document.getElementById("status");

/** Show `message` in the status line (as an error when `isError`). */
export function status(message, isError = false) {
  line().textContent = message;
  line().classList.toggle("error-state", isError);
}
