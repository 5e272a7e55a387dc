import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { IDLE_PING_MS, PONG_MS, STALL_MS, Socket, type ConnState } from "./socket";

/** A WebSocket whose other end the test plays. */
class FakeWebSocket {
  static last: FakeWebSocket | null = null;
  sent: Array<Record<string, unknown>> = [];
  closed: number | null = null;
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: ((ev: { code: number }) => void) | null = null;
  constructor(readonly url: string) { FakeWebSocket.last = this; }
  send(data: string): void { this.sent.push(JSON.parse(data) as Record<string, unknown>); }
  close(code: number): void { this.closed = code; }
  receive(frame: unknown): void { this.onmessage?.({ data: JSON.stringify(frame) }); }
  pings(): number { return this.sent.filter((f) => f["type"] === "ping").length; }
}

class FakeCloseEvent {
  constructor(readonly type: string, readonly init: { code: number }) {}
  get code(): number { return this.init.code; }
}

function connected(): { socket: Socket; ws: FakeWebSocket; states: ConnState[] } {
  const states: ConnState[] = [];
  const socket = new Socket("ws://test/api/v1/ws", "token", {
    onState: (s) => states.push(s),
    onAuthOk: () => {},
    onEvent: () => {},
    onRevoked: () => {},
  });
  socket.start();
  const ws = FakeWebSocket.last!;
  ws.onopen?.();
  ws.receive({ type: "auth_ok", id: 0, user: { id: 1, username: "a", display_name: "A" }, device_id: 1, server_time: 0 });
  return { socket, ws, states };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.stubGlobal("WebSocket", FakeWebSocket);
  vi.stubGlobal("CloseEvent", FakeCloseEvent);
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("connection liveness", () => {
  it("a request met by silence shows the connection as stalled, then reconnects", async () => {
    const { socket, ws, states } = connected();
    expect(socket.state).toBe("online");
    const reply = socket.request({ type: "mark_read", conversation_id: 1, seq: 1 } as never).catch((e: Error) => e);
    vi.advanceTimersByTime(STALL_MS - 1);
    expect(socket.state).toBe("online");
    vi.advanceTimersByTime(1);
    // Not "connected" any more, though the browser still says the socket is open.
    expect(socket.state).toBe("stalled");
    expect(ws.pings()).toBe(1);
    vi.advanceTimersByTime(PONG_MS);
    expect(ws.closed).toBe(4000);
    expect(states).toContain("connecting");
    expect(socket.state).toBe("connecting");
    expect(await reply).toBeInstanceOf(Error);
    socket.stop();
  });

  it("any frame in time keeps it online; a late one brings it back from stalled", () => {
    const { socket, ws } = connected();
    void socket.request({ type: "mark_read", conversation_id: 1, seq: 1 } as never).catch(() => {});
    vi.advanceTimersByTime(STALL_MS - 10);
    ws.receive({ type: "reply", id: 1, result: null });
    vi.advanceTimersByTime(STALL_MS * 3);
    expect(socket.state).toBe("online");
    expect(ws.pings()).toBe(0);

    void socket.request({ type: "mark_read", conversation_id: 1, seq: 2 } as never).catch(() => {});
    vi.advanceTimersByTime(STALL_MS);
    expect(socket.state).toBe("stalled");
    ws.receive({ type: "pong" });
    expect(socket.state).toBe("online");
    vi.advanceTimersByTime(PONG_MS * 2);
    expect(ws.closed).toBeNull();
    socket.stop();
  });

  it("an idle connection is pinged, and given up when the ping goes unanswered", () => {
    const { socket, ws } = connected();
    vi.advanceTimersByTime(IDLE_PING_MS);
    expect(ws.pings()).toBe(1);
    expect(socket.state).toBe("online");
    vi.advanceTimersByTime(PONG_MS);
    expect(ws.closed).toBe(4000);
    socket.stop();
  });

  it("a probe (the browser went offline) stalls at once and closes without an answer", () => {
    const { socket, ws } = connected();
    socket.probe();
    expect(socket.state).toBe("stalled");
    expect(ws.pings()).toBe(1);
    vi.advanceTimersByTime(PONG_MS);
    expect(ws.closed).toBe(4000);
    socket.stop();
  });
});
