// Loss or accuracy curves on a canvas: the server's numbers mapped to pixels, nothing computed. Points are
// added as messages arrive; painting is coalesced into one requestAnimationFrame, so a burst of messages
// costs one repaint.

const TRAIN_COLOR = "#2563eb";
const VAL_COLOR = "#f59e0b";

/** Text size that reads from the back of a room: 12 px on a laptop, about 18 px at 1920 wide. */
export const chartFont = () => Math.round(Math.min(22, Math.max(12, window.innerWidth * 0.0095)));

export class Curves {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{percent?: boolean, painted?: (delays: number[]) => void}} options percent: y in 0..1 shown as %;
   *   painted: told, after each repaint, how long ago (ms) the server sent each newly painted point
   */
  constructor(canvas, options = {}) {
    this.canvas = canvas;
    this.percent = Boolean(options.percent);
    this.painted = options.painted ?? null;
    this.frame = 0;
    this.reset(1);
    new ResizeObserver(() => this.schedule()).observe(canvas);
  }

  /** Forget every point; the x axis runs 0..epochs. */
  reset(epochs) {
    this.epochs = Math.max(1, epochs);
    this.train = [];
    this.val = [];
    this.fresh = [];
    this.top = this.percent ? 1 : 0;
    this.schedule();
  }

  /** Extend the x axis (training more from the current weights). */
  setEpochs(epochs) {
    this.epochs = Math.max(1, epochs);
    this.schedule();
  }

  /** A training point at x (in epochs); sentAt: the server's send time in ms since 1970, if given. */
  addTrain(x, y, sentAt = null) {
    this.train.push([x, y]);
    if (!this.percent && y > this.top) this.top = y;
    if (sentAt !== null) this.fresh.push(sentAt);
    this.schedule();
  }

  /** A validation point (one per epoch). */
  addVal(x, y) {
    this.val.push([x, y]);
    if (!this.percent && y > this.top) this.top = y;
    this.schedule();
  }

  /** How many points are drawn (tests read it). */
  get count() {
    return this.train.length + this.val.length;
  }

  /** Paint now what a scheduled frame would have (a final message is about to be shown). */
  flush() {
    if (!this.frame) return;
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.paint();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.paint();
    });
  }

  paint() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const font = chartFont();
    const style = getComputedStyle(canvas);
    const ink = style.color || "#1d2330";
    ctx.font = `${font}px ui-monospace, "DejaVu Sans Mono", monospace`;
    const left = font * 3.6;
    const bottom = font * 2.9;
    const plot = { x: left, y: font * 0.7, w: Math.max(10, width - left - font), h: Math.max(10, height - bottom - font * 0.7) };
    const step = this.percent ? 0.25 : niceStep(this.top);
    const top = this.percent ? 1 : step * Math.max(1, Math.ceil(this.top / step - 1e-9));
    const px = (x) => plot.x + (x / this.epochs) * plot.w;
    const py = (y) => plot.y + plot.h - (Math.min(y, top) / top) * plot.h;

    ctx.strokeStyle = "rgba(128, 128, 128, 0.35)";
    ctx.fillStyle = ink;
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let i = 0; i * step <= top + 1e-9; i += 1) {
      const value = i * step;
      const y = py(value);
      ctx.beginPath();
      ctx.moveTo(plot.x, y);
      ctx.lineTo(plot.x + plot.w, y);
      ctx.stroke();
      ctx.fillText(this.percent ? `${Math.round(value * 100)}%` : label(value), plot.x - font * 0.3, y);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const every = Math.max(1, Math.ceil(this.epochs / 10));
    for (let e = 0; e <= this.epochs; e += every) ctx.fillText(String(e), px(e), plot.y + plot.h + font * 0.3);
    ctx.fillText("epoch", plot.x + plot.w / 2, plot.y + plot.h + font * 1.55);

    line(ctx, this.train.map(([x, y]) => [px(x), py(y)]), TRAIN_COLOR, 2.5, false);
    line(ctx, this.val.map(([x, y]) => [px(x), py(y)]), VAL_COLOR, 3, true);
    const last = this.train.at(-1);
    if (last) dot(ctx, px(last[0]), py(last[1]), TRAIN_COLOR);
    if (this.fresh.length && this.painted) {
      const now = performance.timeOrigin + performance.now();
      this.painted(this.fresh.map((sentAt) => now - sentAt));
    }
    this.fresh = [];
  }
}

/** A round tick step for a quarter of the axis (1, 2, 2.5 or 5 times a power of ten). */
function niceStep(value) {
  if (!(value > 0)) return 0.25;
  const power = 10 ** Math.floor(Math.log10(value / 4));
  return [1, 2, 2.5, 5, 10].map((step) => step * power).find((step) => step * 4 >= value) ?? 10 * power;
}

function label(value) {
  return value === 0 ? "0" : Number(value.toPrecision(2)).toString();
}

function line(ctx, points, color, width, marks) {
  if (!points.length) return;
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.lineJoin = "round";
  ctx.beginPath();
  points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
  ctx.stroke();
  if (marks) for (const [x, y] of points) dot(ctx, x, y, color);
}

function dot(ctx, x, y, color) {
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.arc(x, y, 4, 0, Math.PI * 2);
  ctx.fill();
}
