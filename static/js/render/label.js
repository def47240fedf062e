// A number written over a picture's cell: white digits on a dark plate just their size, readable on any colour
// (outlined white digits looked hollow on light cells: a "0" read like a ring, and white on beige had no contrast).

const PLATE = "rgba(17, 17, 17, 0.72)";

/**
 * Write `text` centred at (x, y) in the context's current font, on its plate, the plate at most `maxWidth` wide
 * (the font made smaller if need be: a number never spills over its cell onto the next one's).
 */
export function plateText(ctx, text, x, y, maxWidth = Infinity) {
  let plate = measure(ctx, text);
  if (plate.width > maxWidth) { // the plate grows with the font: one rescale fits it (the 2 px floor aside)
    ctx.font = ctx.font.replace(/(\d+(?:\.\d+)?)px/, (_, px) => `${(Number(px) * maxWidth) / plate.width}px`);
    plate = measure(ctx, text);
  }
  ctx.fillStyle = PLATE;
  ctx.beginPath();
  ctx.roundRect(x - plate.width / 2, y - plate.height / 2, plate.width, plate.height, plate.radius);
  ctx.fill();
  ctx.fillStyle = "#fff";
  ctx.fillText(text, x, y);
}

/** The plate of `text` in the context's font: the text's extent plus padding. */
function measure(ctx, text) {
  const metrics = ctx.measureText(text);
  const height = metrics.actualBoundingBoxAscent + metrics.actualBoundingBoxDescent;
  const padX = Math.max(2, height * 0.25);
  const padY = Math.max(1, height * 0.2);
  return { width: metrics.width + 2 * padX, height: height + 2 * padY, radius: Math.max(2, height * 0.2) };
}
