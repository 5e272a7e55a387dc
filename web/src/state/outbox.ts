// The outbox: sends shown at once as pending, kept in the cache until the
// server confirms them, and sent again with the same client_msg_id after a
// reconnect, so that a message is stored once whatever the network did.
import { signal } from "@preact/signals";
import type { Message, SendMessageResponse } from "../generated/protocol";
import type { Session } from "./session";
import { newClientMsgId, settlePending, type PendingSend } from "./timeline";

/** Errors after which a send is worth retrying as it is. */
const RETRYABLE = new Set(["closed", "network", "unavailable", "internal", "server_busy", "rate_limited"]);

export class Outbox {
  readonly pending = signal<PendingSend[]>([]);
  private inFlight = new Set<string>();
  /** The server stored a send: its reply carries the message, which the timeline takes like a live one. */
  onStored: (m: Message) => void = () => {};

  constructor(private readonly session: Session) {}

  /** What the cache held at start. */
  async restore(): Promise<() => void> {
    const pending = await this.session.cache.allPending();
    return () => { this.pending.value = pending; };
  }

  reset(): void {
    this.pending.value = [];
    this.inFlight.clear();
  }

  /** Shows the message at once as pending, stores it, sends it when connected. */
  send(conversationId: number, text: string): PendingSend {
    const p: PendingSend = { client_msg_id: newClientMsgId(), conversation_id: conversationId, text, created_at: Date.now() };
    this.pending.value = [...this.pending.value, p];
    void this.session.cache.putPending(p);
    void this.trySend(p);
    return p;
  }

  retry(clientMsgId: string): void {
    const p = this.pending.value.find((x) => x.client_msg_id === clientMsgId);
    if (!p) return;
    const again = { ...p, error: null };
    this.pending.value = this.pending.value.map((x) => (x.client_msg_id === clientMsgId ? again : x));
    void this.trySend(again);
  }

  discard(clientMsgId: string): void {
    this.pending.value = this.pending.value.filter((x) => x.client_msg_id !== clientMsgId);
    void this.session.cache.deletePending(clientMsgId);
  }

  /** Resends every pending send, in order, with its original client_msg_id. */
  async flush(): Promise<void> {
    for (const p of [...this.pending.value].sort((a, b) => a.created_at - b.created_at)) {
      if (!p.error) await this.trySend(p);
    }
  }

  /** Drops pending sends that these messages confirm. */
  settle(msgs: readonly Message[]): void {
    const before = this.pending.value;
    const after = settlePending(before, msgs, this.session.myId);
    if (after === before) return;
    const left = new Set(after.map((p) => p.client_msg_id));
    for (const p of before) if (!left.has(p.client_msg_id)) void this.session.cache.deletePending(p.client_msg_id);
    this.pending.value = after;
  }

  private async trySend(p: PendingSend): Promise<void> {
    const t = this.session.transport;
    if (!t || !t.isOnline || this.inFlight.has(p.client_msg_id)) return;
    this.inFlight.add(p.client_msg_id);
    try {
      const r = await t.request<SendMessageResponse>({
        type: "send", conversation_id: p.conversation_id, client_msg_id: p.client_msg_id,
        content: { kind: "text", text: p.text },
      });
      this.onStored(r.message);
    } catch (e) {
      const code = (e as { code?: string }).code ?? "closed";
      if (!RETRYABLE.has(code)) {
        const failed = { ...p, error: code as PendingSend["error"] };
        this.pending.value = this.pending.value.map((x) => (x.client_msg_id === p.client_msg_id ? failed : x));
        void this.session.cache.putPending(failed);
      }
      // Retryable: it stays pending and goes again after the next (re)connect.
    } finally {
      this.inFlight.delete(p.client_msg_id);
    }
  }
}
