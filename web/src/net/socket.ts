// One WebSocket per device: auth in the first frame, requests matched to replies by id,
// keepalive pings, and reconnect with exponential backoff and full jitter.
//
// Liveness comes from the socket's own traffic, not from the browser (which may
// keep a dead TCP connection "open" for minutes after the network is cut): any
// frame proves the connection alive; a request met by silence makes it
// "stalled" at once, and a ping unanswered after that closes it.
import type { ClientRequest, ErrorCode, Event, ServerFrame, UserProfile } from "../generated/protocol";

export type ConnState = "offline" | "connecting" | "online" | "stalled" | "revoked";

/** Silence after a request before the connection counts as stalled and is pinged. */
export const STALL_MS = 3_000;
/** Time a ping has to be answered (by any frame) before the connection is given up. */
export const PONG_MS = 5_000;
/** Silence on an idle connection after which it is pinged (the server closes after 60 s). */
export const IDLE_PING_MS = 20_000;

export interface SocketHooks {
  onState(state: ConnState): void;
  onAuthOk(user: UserProfile, deviceId: number, serverTime: number): void;
  onEvent(event: Event): void;
  /** The token is dead (4001 after `unauthorized`, or 4002): stop and log out. */
  onRevoked(): void;
}

export class SocketError extends Error {
  constructor(readonly code: ErrorCode | "closed", message: string) {
    super(message);
  }
}

interface Waiter { resolve(v: unknown): void; reject(e: Error): void }

/** Backoff before attempt `n` (0-based): full jitter over 0.5 s doubling to 30 s. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(30_000, 500 * 2 ** Math.min(attempt, 10));
  return Math.round(cap / 2 + (random() * cap) / 2);
}

export class Socket {
  private ws: WebSocket | null = null;
  private nextId = 1;
  private waiters = new Map<number, Waiter>();
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private stallTimer: ReturnType<typeof setTimeout> | null = null;
  private pongDeadline: ReturnType<typeof setTimeout> | null = null;
  private upSince = 0;
  private lastHeard = 0;
  private stopped = true;
  private authed = false;
  private lastErrorCode: string | null = null;
  state: ConnState = "offline";

  constructor(private readonly url: string, private token: string, private readonly hooks: SocketHooks) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.teardown();
    this.ws?.close(1000);
    this.ws = null;
    this.setState("offline");
  }

  /** Reconnect now (the browser came back online, or the user asked). */
  kick(): void {
    if (this.state === "stalled") { this.probe(); return; }
    if (this.stopped || this.state === "online") return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.attempt = 0;
    if (!this.ws) this.open();
  }

  get isOnline(): boolean { return this.state === "online" || this.state === "stalled"; }

  /**
   * Checks the connection now (the browser says it went offline, or a request
   * is waiting): unless a frame arrives within PONG_MS, it is closed and
   * reconnected.
   */
  probe(): void {
    if (!this.ws || !this.authed) return;
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    this.setState("stalled");
    this.ping();
  }

  request<T>(req: ClientRequest, timeoutMs = 15_000): Promise<T> {
    const ws = this.ws;
    if (!ws || !this.authed) return Promise.reject(new SocketError("closed", "not connected"));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new SocketError("closed", "timeout"));
      }, timeoutMs);
      this.waiters.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v as T); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      ws.send(JSON.stringify({ id, ...req }));
      this.expectAnswer();
    });
  }

  /** Fire and forget (typing); dropped when not connected. */
  notify(req: ClientRequest): void {
    if (this.ws && this.authed) this.ws.send(JSON.stringify(req));
  }

  /** A request is out: silence from now on for STALL_MS means trouble. */
  private expectAnswer(): void {
    if (this.stallTimer || this.pongDeadline) return;
    this.stallTimer = setTimeout(() => {
      this.stallTimer = null;
      this.probe();
    }, STALL_MS);
  }

  private ping(): void {
    if (!this.ws || !this.authed) return;
    this.ws.send(JSON.stringify({ type: "ping" }));
    if (this.pongDeadline) return;
    this.pongDeadline = setTimeout(() => {
      this.pongDeadline = null;
      // Nothing heard: the connection is dead even if the browser has not noticed.
      const ws = this.ws;
      ws?.close(4000);
      if (ws) { ws.onclose?.(new CloseEvent("close", { code: 1006 })); }
    }, PONG_MS);
  }

  /** Any frame: the connection lives. */
  private heard(): void {
    this.lastHeard = Date.now();
    if (this.stallTimer) clearTimeout(this.stallTimer);
    if (this.pongDeadline) clearTimeout(this.pongDeadline);
    this.stallTimer = null;
    this.pongDeadline = null;
    if (this.state === "stalled") this.setState("online");
  }

  private setState(s: ConnState): void {
    if (this.state === s) return;
    this.state = s;
    this.hooks.onState(s);
  }

  private open(): void {
    this.setState("connecting");
    this.authed = false;
    this.lastErrorCode = null;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ id: 0, type: "auth", token: this.token }));
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      if (this.authed) this.heard();
      if (typeof ev.data !== "string") return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(ev.data) as ServerFrame;
      } catch {
        return;
      }
      this.onFrame(frame);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.teardown();
      const dead = ev.code === 4002 || (ev.code === 4001 && this.lastErrorCode === "unauthorized");
      if (dead) {
        this.stopped = true;
        this.setState("revoked");
        this.hooks.onRevoked();
        return;
      }
      if (!this.stopped) this.scheduleRetry();
    };
  }

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case "auth_ok":
        this.authed = true;
        this.upSince = Date.now();
        this.startPings();
        this.setState("online");
        this.hooks.onAuthOk(frame.user, frame.device_id, frame.server_time);
        return;
      case "reply": {
        const w = this.waiters.get(frame.id);
        if (w) { this.waiters.delete(frame.id); w.resolve(frame.result); }
        return;
      }
      case "error": {
        this.lastErrorCode = frame.code;
        if (frame.id === 0 && !this.authed && frame.code !== "unauthorized") {
          // Anything but auth_ok in answer to auth: close and retry with backoff.
          this.ws?.close(4000);
        }
        if (frame.id !== undefined) {
          const w = this.waiters.get(frame.id);
          if (w) { this.waiters.delete(frame.id); w.reject(new SocketError(frame.code, frame.message)); }
        }
        return;
      }
      case "pong":
        return;
      case "event":
        this.hooks.onEvent(frame.event);
        return;
    }
  }

  private startPings(): void {
    this.lastHeard = Date.now();
    this.pingTimer = setInterval(() => {
      if (!this.pongDeadline && Date.now() - this.lastHeard >= IDLE_PING_MS) this.ping();
    }, IDLE_PING_MS / 4);
  }

  private teardown(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.stallTimer) clearTimeout(this.stallTimer);
    if (this.pongDeadline) clearTimeout(this.pongDeadline);
    this.pingTimer = null;
    this.stallTimer = null;
    this.pongDeadline = null;
    this.authed = false;
    if (this.upSince && Date.now() - this.upSince > 30_000) this.attempt = 0;
    this.upSince = 0;
    const waiters = [...this.waiters.values()];
    this.waiters.clear();
    for (const w of waiters) w.reject(new SocketError("closed", "connection closed"));
  }

  private scheduleRetry(): void {
    this.setState("connecting");
    const delay = backoffMs(this.attempt++);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this.open();
    }, delay);
  }
}
