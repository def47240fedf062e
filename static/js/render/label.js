// A number written over a picture's cell: white digits on a dark plate just their size, readable on any colour
// (outlined white digits looked hollow on light cells: a "0" read like a ring, and white on beige had no contrast).

const PLATE = "rgba(17, 17, 17, 0.72)";

/** Write `text` centred at (x, y) in the context's current font, on its plate. */
export function plateText(ctx, text, x, y) {
  const metrics = ctx.measureText(text);
  const height = metrics.actualBoundingBoxAscent + metrics.actualBoundingBoxDescent;
  const padX = Math.max(2, height * 0.25);
  const padY = Math.max(1, height * 0.2);
  ctx.fillStyle = PLATE;
  ctx.beginPath();
  ctx.roundRect(x - metrics.width / 2 - padX, y - height / 2 - padY, metrics.width + 2 * padX, height + 2 * padY,
    Math.max(2, height * 0.2));
  ctx.fill();
  ctx.fillStyle = "#fff";
  ctx.fillText(text, x, y);
}
