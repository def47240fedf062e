// A 280x280 drawing pad: white ink on black, drawn with pointer events (mouse, pen or finger). It only
// records strokes and hands the pad's brightness (0-255 integers, one per pixel) to the server, which
// prepares the digit as MNIST's were.

export class DrawPad extends EventTarget {
  /** @param {HTMLCanvasElement} canvas a 280x280 canvas */
  constructor(canvas) {
    super();
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.drawing = false;
    this.last = null;
    this.clear();
    canvas.style.touchAction = "none";
    canvas.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      canvas.setPointerCapture?.(event.pointerId);
      this.drawing = true;
      this.last = this.at(event);
      this.stroke(this.last, this.last);
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!this.drawing) return;
      const point = this.at(event);
      this.stroke(this.last, point);
      this.last = point;
    });
    const end = () => {
      if (!this.drawing) return;
      this.drawing = false;
      this.dispatchEvent(new CustomEvent("drawn"));
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
  }

  /** The pointer's position in pad pixels (the canvas may be shown larger or smaller than 280 px). */
  at(event) {
    const box = this.canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * (this.canvas.width / box.width),
      (event.clientY - box.top) * (this.canvas.height / box.height)];
  }

  stroke(from, to) {
    const ctx = this.ctx;
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = this.canvas.width / 12;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0] + 0.01, to[1]);
    ctx.stroke();
  }

  clear() {
    this.ctx.fillStyle = "#000";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /** Show a picture (a photo) fitted into the pad, in grey, and return its own pixels (at most 280 a side,
   * its own aspect: no letterbox bars, which would look like a border to the server). */
  showImage(image) {
    this.clear();
    const fit = Math.min(1, 280 / Math.max(image.width, image.height));
    const own = document.createElement("canvas");
    own.width = Math.max(1, Math.round(image.width * fit));
    own.height = Math.max(1, Math.round(image.height * fit));
    const ctx = own.getContext("2d", { willReadFrequently: true });
    ctx.filter = "grayscale(1)";
    ctx.drawImage(image, 0, 0, own.width, own.height);
    const show = Math.min(this.canvas.width / own.width, this.canvas.height / own.height);
    const [w, h] = [own.width * show, own.height * show];
    this.ctx.drawImage(own, (this.canvas.width - w) / 2, (this.canvas.height - h) / 2, w, h);
    return readRows(ctx, own.width, own.height);
  }

  /** The pad's brightness as rows of 0-255 integers (the red channel of a grey picture). */
  pixels() {
    return readRows(this.ctx, this.canvas.width, this.canvas.height);
  }
}

function readRows(ctx, width, height) {
  const data = ctx.getImageData(0, 0, width, height).data;
  const rows = [];
  for (let r = 0; r < height; r += 1) {
    const row = new Array(width);
    for (let c = 0; c < width; c += 1) row[c] = data[(r * width + c) * 4];
    rows.push(row);
  }
  return rows;
}
