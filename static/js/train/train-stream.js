// The /ws/train socket: JSON control messages out, every server message re-dispatched as an event of its
// "type" (queued, started, progress, epoch, paused, resumed, done, stopped, error). Opens on first use.

export class TrainStream extends EventTarget {
  constructor() {
    super();
    this.socket = null;
    this.pending = [];
  }

  /** The socket URL, relative to the document (works under a path prefix). */
  static url() {
    const url = new URL("ws/train", document.baseURI);
    url.protocol = url.protocol.replace("http", "ws");
    return url.href;
  }

  connect() {
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) return;
    const socket = new WebSocket(TrainStream.url());
    this.socket = socket;
    socket.addEventListener("open", () => {
      for (const message of this.pending.splice(0)) socket.send(JSON.stringify(message));
    });
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      this.dispatchEvent(new CustomEvent(message.type, { detail: message }));
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.dispatchEvent(new CustomEvent("closed"));
    });
  }

  /** Send a control message ({type: "start" | "pause" | "resume" | "stop", ...}). */
  send(message) {
    this.connect();
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
    else this.pending.push(message);
  }
}
