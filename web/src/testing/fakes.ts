// Test doubles for the state layer and the view models: a server holding one
// conversation that answers like the real routes, and a connection the test
// opens and drops. Only tests import this file.
import type { ClientRequest, ConversationSummary, Message, SyncResponse, UserProfile } from "../generated/protocol";
import type { Api } from "../net/api";
import type { SocketHooks } from "../net/socket";
import { SocketError } from "../net/socket";
import { memoryCache, type DeviceStorage } from "../state/cache";
import { ChatStore, type Transport } from "../state/store";

export const ME = 9;
export const ME_PROFILE: UserProfile = { id: ME, username: "me", display_name: "me", created_at: 0 };

export const msg = (seq: number, sender = 2, cmid: string | null = `m${seq}`, conversation_id = 1): Message => ({
  conversation_id, seq, sender_id: sender, client_msg_id: cmid, sent_at: 1000 + seq,
  content: { kind: "text", text: `text ${seq}` }, reply_to: null, edited_at: null, recalled_at: null, expires_at: null,
});

export const summary = (last_seq: number, patch: Partial<ConversationSummary> = {}): ConversationSummary => ({
  id: 1, kind: "direct", name: "bob", peer: { id: 2, username: "bob", display_name: "bob", created_at: 0 },
  announcement: null, member_count: 2, my_role: "member", last_seq, read_seq: 0, unread: last_seq,
  last_message: last_seq ? msg(last_seq) : null, created_at: 0, updated_at: 1000 + last_seq, ...patch,
});

/** A server holding one conversation's messages, answering like the real history route. */
export function fakeServer(initial: number) {
  const all: Message[] = [];
  for (let s = 1; s <= initial; s++) all.push(msg(s));
  const calls: string[] = [];
  let cursor = 10;
  const api = {
    token: null as string | null,
    async sync(since: number): Promise<SyncResponse> {
      calls.push(`sync ${since}`);
      return { cursor, reset: since === 0, has_more: false, events: [], conversations: [summary(all.length)] };
    },
    async history(_id: number, q: { before?: number; after?: number; limit?: number }) {
      calls.push(`history ${JSON.stringify(q)}`);
      const limit = q.limit ?? 50;
      let sel = all.filter((m) => (q.before === undefined || m.seq < q.before) && (q.after === undefined || m.seq > q.after));
      const has_more = sel.length > limit;
      sel = q.after !== undefined ? sel.slice(0, limit) : sel.slice(Math.max(0, sel.length - limit));
      return { messages: sel, has_more };
    },
    async friends() { return { friends: [] }; },
    async friendRequests() { return { incoming: [], outgoing: [], next: null }; },
    async blocks() { return { users: [] }; },
    async me() { return ME_PROFILE; },
    async conversation() { return summary(all.length); },
    async members() { return { members: [] }; },
  };
  return {
    api: api as unknown as Api, all, calls,
    /** Replaces (or adds) one route of the fake, recording nothing itself. */
    route(name: string, f: (...args: never[]) => Promise<unknown>) { (api as unknown as Record<string, unknown>)[name] = f; },
    append(sender = 2, cmid: string | null = null) { const m = msg(all.length + 1, sender, cmid ?? `m${all.length + 1}`); all.push(m); return m; },
    bumpCursor() { cursor += 5; },
  };
}

export type FakeServer = ReturnType<typeof fakeServer>;

/** A transport whose connection the test controls. */
export function fakeTransport(server: FakeServer) {
  let hooks: SocketHooks | null = null;
  const t = {
    online: false,
    sent: [] as ClientRequest[],
    dropNextSend: false,
    get isOnline() { return t.online; },
    start() {},
    stop() {},
    kick() {},
    probe() {},
    notify(r: ClientRequest) { t.sent.push(r); },
    async request<T>(r: ClientRequest): Promise<T> {
      t.sent.push(r);
      if (!t.online) throw new SocketError("closed", "offline");
      if (r.type === "send") {
        // Idempotent like the server: the same client id returns the original message.
        const existing = server.all.find((m) => m.sender_id === ME && m.client_msg_id === r.client_msg_id);
        const m = existing ?? server.append(ME, r.client_msg_id);
        if (t.dropNextSend) { t.dropNextSend = false; throw new SocketError("closed", "dropped after storing"); }
        return { message: m } as T;
      }
      return { ok: true } as T;
    },
    connect(h: SocketHooks) { hooks = h; t.online = true; h.onState("online"); h.onAuthOk(ME_PROFILE, 1, 0); },
    disconnect() { t.online = false; hooks?.onState("connecting"); },
  };
  return t;
}

/** Device storage in memory; `exists` says whether a reload finds a cache. */
export function memoryStorage(): DeviceStorage & { opened: number } {
  const cache = memoryCache();
  const s = {
    opened: 0,
    async exists() { return s.opened > 0; },
    async open() { s.opened++; return cache; },
  };
  return s;
}

/** A store started for user ME against a fake server holding `initial` messages, not connected yet. */
export async function setup(initial: number) {
  const server = fakeServer(initial);
  const transport = fakeTransport(server);
  let hooks: SocketHooks | null = null;
  const store = new ChatStore(server.api, (_token, h) => { hooks = h; return transport as unknown as Transport; }, memoryStorage());
  await store.start({ token: "t", device_id: 1, user: ME_PROFILE }, memoryCache());
  const connect = async () => { transport.connect(hooks!); await settle(store); };
  return { server, transport, store, connect };
}

/** Waits until the store has finished its catch-up work. */
export async function settle(store: ChatStore) {
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 0));
    if (store.session.synced.value) break;
  }
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));
}
