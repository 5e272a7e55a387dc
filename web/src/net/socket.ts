// One WebSocket per device: auth in the first frame, requests matched to replies by id,
// keepalive pings, and reconnect with exponential backoff and full jitter.
import type { ClientRequest, ErrorCode, Event, ServerFrame, UserProfile } from "../generated/protocol";

export type ConnState = "offline" | "connecting" | "online" | "revoked";

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
  private pongDeadline: ReturnType<typeof setTimeout> | null = null;
  private upSince = 0;
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
    if (this.stopped || this.state === "online") return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.attempt = 0;
    if (!this.ws) this.open();
  }

  get isOnline(): boolean { return this.state === "online"; }

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
    });
  }

  /** Fire and forget (typing); dropped when not connected. */
  notify(req: ClientRequest): void {
    if (this.ws && this.authed) this.ws.send(JSON.stringify(req));
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
        if (this.pongDeadline) clearTimeout(this.pongDeadline);
        this.pongDeadline = null;
        return;
      case "event":
        this.hooks.onEvent(frame.event);
        return;
    }
  }

  private startPings(): void {
    this.pingTimer = setInterval(() => {
      if (!this.ws || !this.authed) return;
      this.ws.send(JSON.stringify({ type: "ping" }));
      if (!this.pongDeadline) {
        this.pongDeadline = setTimeout(() => {
          // No pong: the connection is dead even if the browser has not noticed.
          this.ws?.close(4000);
          const ws = this.ws;
          if (ws) { ws.onclose?.(new CloseEvent("close", { code: 1006 })); }
        }, 10_000);
      }
    }, 20_000);
  }

  private teardown(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.pongDeadline) clearTimeout(this.pongDeadline);
    this.pingTimer = null;
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
