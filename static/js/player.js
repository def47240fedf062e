// The animation clock: frames arrive from the server's stream at the chosen pace; once per display
// frame (requestAnimationFrame) the newest one is painted and acknowledged, so the page never
// paints more than 60 times a second however many steps per second stream in.

import { frameOf } from "./stream.js";

export class Player {
  /**
   * @param {import("./stream.js").FrameStream} stream
   * @param {(frame: object, peek: boolean) => void} paint
   */
  constructor(stream, paint) {
    this.stream = stream;
    this.paint = paint;
    this.latest = null;
    this.peeked = null;
    this.playing = false;
    this.speed = 20;
    this.intervals = [];
    this.lastPaint = 0;
    stream.addEventListener("frames", (event) => {
      const batch = event.detail;
      if (batch.peek) this.peeked = frameOf(batch, 0);
      else this.latest = frameOf(batch, batch.count - 1);
    });
    stream.addEventListener("state", (event) => {
      this.playing = event.detail.playing;
    });
    requestAnimationFrame((time) => this.tick(time));
  }

  tick(time) {
    requestAnimationFrame((next) => this.tick(next)); // first: a paint that throws must not stop the clock
    if (this.lastPaint && this.playing) this.intervals.push(time - this.lastPaint);
    if (this.intervals.length > 2000) this.intervals.splice(0, 1000);
    this.lastPaint = time;
    const current = (frame) => frame && frame.runId === this.stream.runId; // not of a run replaced since
    const [peeked, frame] = [this.peeked, this.latest];
    [this.peeked, this.latest] = [null, null];
    if (current(peeked)) this.paint(peeked, true);
    if (current(frame)) {
      this.paint(frame, false);
      this.stream.ack(frame.index, frame.runId);
    }
  }

  play(speed = this.speed) {
    this.speed = speed;
    this.playing = true;
    this.stream.play(speed);
  }

  pause() {
    this.playing = false;
    this.stream.pause();
  }

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }
}
