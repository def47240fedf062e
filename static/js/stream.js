// The ws/animate client: sends control messages, decodes KLF1 frame batches, reconnects if dropped.
// Its URL is relative to the page's <base>, so the page works under a path prefix.

import { relativeUrls } from "./api.js";

const TYPED = { i2: Int16Array, i4: Int32Array, f4: Float32Array, f8: Float64Array };

/**
 * Decode a KLF1 message (docs/frames-binary.md) into its header and typed-array fields, without copying.
 * @param {ArrayBuffer} buffer
 */
export function decodeBatch(buffer) {
  const view = new DataView(buffer);
  const magic = String.fromCharCode(...new Uint8Array(buffer, 0, 4));
  if (magic !== "KLF1") throw new Error("not a Kernel Lens frame batch");
  const length = view.getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, length)));
  const fields = {};
  for (const field of header.fields) {
    const count = field.shape.reduce((a, b) => a * b, 1);
    fields[field.name] = { data: new TYPED[field.dtype](buffer, 8 + length + field.offset, count), shape: field.shape };
  }
  return { ...header, fields };
}

/** One frame of a batch: each field as {data, shape} without the frame axis (views, not copies). */
export function frameOf(batch, i) {
  const frame = { index: batch.start + i, runId: batch.run_id };
  for (const [name, field] of Object.entries(batch.fields)) {
    const shape = field.shape.slice(1);
    const size = shape.reduce((a, b) => a * b, 1);
    frame[name] = { data: field.data.subarray(i * size, (i + 1) * size), shape };
  }
  return frame;
}

/** A JSON batch ({"frames": [...]}) in the same shape as a decoded binary one. */
function fromJson(message) {
  const fields = {};
  const names = message.frames.length ? Object.keys(message.frames[0]) : [];
  for (const name of names) {
    const values = message.frames.map((frame) => frame[name]);
    const flat = values.flat(Infinity).map((v) => (v === null ? -Infinity : v));
    const shape = [values.length];
    for (let probe = values[0]; Array.isArray(probe); probe = probe[0]) shape.push(probe.length);
    fields[name] = { data: Float64Array.from(flat), shape };
  }
  return { ...message, fields };
}

const RETRY_BASE_MS = 200;
const RETRY_CAP_MS = 10_000;

/**
 * How long to wait before reconnection attempt `attempt` (1, 2, ...): exponential back-off (0.2 s doubling up to
 * 10 s) with jitter (a random wait in the upper half), so the pages a dead process served don't all come back to
 * the other processes at the same moment.
 */
export function retryDelay(attempt, random = Math.random) {
  const ceiling = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** (attempt - 1));
  return ceiling / 2 + (random() * ceiling) / 2;
}

export class FrameStream extends EventTarget {
  /**
   * @param {string} path the socket's path, relative to the page's base
   * @param {{hold?: boolean}} options hold: keep what arrives until release() (its listeners are not attached yet)
   */
  constructor(path = "ws/animate", { hold = false } = {}) {
    super();
    this.held = hold ? [] : null;
    const url = new URL(path, document.baseURI);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    this.url = url.href;
    this.queue = [];
    this.lastOpen = null;
    this.runId = null; // the run the server last opened: frames and acks of any other are stale
    this.position = -1;
    this.retry = 0;
    this.playing = false; // whether the session should be playing (sent play, or the server's last state)
    this.fps = 20;
    this.connect();
  }

  connect() {
    this.socket = new WebSocket(this.url);
    this.socket.binaryType = "arraybuffer";
    this.socket.addEventListener("open", () => {
      const resumed = this.retry > 0;
      this.retry = 0;
      // acks and hover peeks queued meanwhile belong to the lost session: the new one starts with the open
      const pending = this.queue.splice(0).filter((m) => m.type !== "ack" && m.type !== "peek");
      if (this.lastOpen && !pending.some((m) => m.type === "open" || m.type === "set")) {
        // resume where it was (whichever process answers now): the run by id, the same step, playing if it was
        const resume = [this.lastOpen];
        if (this.position >= 0) resume.push({ type: "seek", index: this.position });
        if (this.playing && !pending.some((m) => m.type === "play" || m.type === "pause")) {
          resume.push({ type: "play", fps: this.fps });
        }
        pending.unshift(...resume);
      }
      for (const message of pending) this.socket.send(JSON.stringify(message));
      if (resumed) this.emit("reconnected", {});
    });
    this.socket.addEventListener("message", (event) => this.receive(event.data));
    this.socket.addEventListener("close", () => {
      this.retry += 1;
      const delay = retryDelay(this.retry);
      this.emit("disconnected", { attempt: this.retry, retry_in_ms: Math.round(delay) });
      setTimeout(() => this.connect(), delay);
    });
  }

  receive(data) {
    if (typeof data !== "string") {
      const batch = decodeBatch(data);
      if (!batch.peek) this.position = batch.start + batch.count - 1;
      this.emit("frames", batch);
      return;
    }
    const message = JSON.parse(data);
    if (message.type !== "frames") relativeUrls(message); // e.g. "opened" carries the run and its URLs
    if (message.type === "frames") {
      const batch = fromJson(message);
      this.emit("frames", batch);
    } else {
      if (message.type === "opened") this.runId = message.run.run_id;
      if (message.type === "opened" || message.type === "state") this.position = message.position;
      if (message.type === "state") this.playing = message.playing;
      this.emit(message.type, message);
    }
  }

  emit(type, detail) {
    if (this.held) this.held.push([type, detail]);
    else this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Pass on what arrived while held, in order, and from now on everything as it comes. */
  release() {
    const held = this.held ?? [];
    this.held = null;
    for (const [type, detail] of held) this.emit(type, detail);
  }

  send(message) {
    if (message.type === "open" || message.type === "set") this.lastOpen = { ...message, type: "open" };
    if (message.type === "play") [this.playing, this.fps] = [true, message.fps];
    if (message.type === "pause" || message.type === "step") this.playing = false;
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
    else this.queue.push(message);
  }

  /** New settings; `picture` ({map, mode, contrast}) names the result picture the page will ask for. */
  open(request, picture = null) { this.send(picture ? { type: "set", request, picture } : { type: "set", request }); }
  openRun(runId) { this.send({ type: "set", run_id: runId }); }
  play(fps) { this.send({ type: "play", fps }); }
  pause() { this.send({ type: "pause" }); }
  step(by) { this.send({ type: "step", by }); }
  stepRows(rows) { this.send({ type: "step", rows }); }
  seek(index) { this.send({ type: "seek", index }); }
  seekPosition(position) { this.send({ type: "seek", position }); }
  peek(position) { this.send({ type: "peek", position }); }
  /** The page painted frame `index` of run `runId`: the server ignores an ack of a run it has replaced since. */
  ack(index, runId) { this.send({ type: "ack", index, run_id: runId }); }
}
