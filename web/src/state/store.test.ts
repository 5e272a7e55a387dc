import { describe, expect, it } from "vitest";
import type { ClientRequest, ConversationSummary, Message, SyncResponse } from "../generated/protocol";
import { ApiError, type Api } from "../net/api";
import type { SocketHooks } from "../net/socket";
import { SocketError } from "../net/socket";
import { memoryCache } from "./cache";
import { ChatStore, type Transport } from "./store";

const ME = 9;
const msg = (seq: number, sender = 2, cmid: string | null = `m${seq}`): Message => ({
  conversation_id: 1, seq, sender_id: sender, client_msg_id: cmid, sent_at: 1000 + seq,
  content: { kind: "text", text: `text ${seq}` }, reply_to: null, edited_at: null, recalled_at: null, expires_at: null,
});
const summary = (last_seq: number): ConversationSummary => ({
  id: 1, kind: "direct", name: "bob", peer: { id: 2, username: "bob", display_name: "bob", created_at: 0 },
  announcement: null, member_count: 2, my_role: "member", last_seq, read_seq: 0, unread: last_seq,
  last_message: last_seq ? msg(last_seq) : null, created_at: 0, updated_at: 1000 + last_seq,
});

/** A server holding one conversation's messages, answering like the real history route. */
function fakeServer(initial: number) {
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
      let has_more: boolean;
      if (q.after !== undefined) { has_more = sel.length > limit; sel = sel.slice(0, limit); }
      else { has_more = sel.length > limit; sel = sel.slice(Math.max(0, sel.length - limit)); }
      return { messages: sel, has_more };
    },
    async friends() { return { friends: [] }; },
    async friendRequests() { return { incoming: [], outgoing: [], next: null }; },
    async blocks() { return { users: [] }; },
    async me() { return { id: ME, username: "me", display_name: "me", created_at: 0 }; },
    async conversation() { return summary(all.length); },
    async members() { return { members: [] }; },
  };
  return {
    api: api as unknown as Api, all, calls,
    append(sender = 2, cmid: string | null = null) { const m = msg(all.length + 1, sender, cmid ?? `m${all.length + 1}`); all.push(m); return m; },
    bumpCursor() { cursor += 5; },
  };
}

/** A transport whose connection the test controls. */
function fakeTransport(server: ReturnType<typeof fakeServer>) {
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
    connect(h: SocketHooks) { hooks = h; t.online = true; h.onState("online"); h.onAuthOk({ id: ME, username: "me", display_name: "me", created_at: 0 }, 1, 0); },
    disconnect() { t.online = false; hooks?.onState("connecting"); },
    hooks: () => hooks!,
  };
  return t;
}

async function setup(initial: number) {
  const server = fakeServer(initial);
  const transport = fakeTransport(server);
  let hooks: SocketHooks | null = null;
  const store = new ChatStore(server.api, (_token, h) => { hooks = h; return transport as unknown as Transport; });
  await store.start({ token: "t", device_id: 1, user: { id: ME, username: "me", display_name: "me", created_at: 0 } }, memoryCache());
  const connect = async () => { transport.connect(hooks!); await settle(store); };
  return { server, transport, store, connect };
}

/** Waits until the store has finished its catch-up work. */
async function settle(store: ChatStore) {
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 0));
    if (store.synced.value) break;
  }
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));
}
const seqs = (store: ChatStore) => store.timeline(1).value.messages.map((m) => m.seq);

describe("ChatStore sync", () => {
  it("a first sync loads the newest page of each conversation", async () => {
    const { store, connect, server } = await setup(3);
    await connect();
    expect(server.calls[0]).toBe("sync 0");
    expect(seqs(store)).toEqual([1, 2, 3]);
    expect(store.conversations.value[0]!.unread).toBe(3);
  });

  it("fills a gap before applying a live message, and ignores duplicates", async () => {
    const { store, connect, server } = await setup(2);
    store.reorderWindowMs = 0;
    await connect();
    server.append(); server.append();
    const m5 = server.append();
    await store.onMessage(m5);
    expect(server.calls, server.calls.join("; ")).toContain(`history ${JSON.stringify({ after: 2, limit: 100, before: 5 })}`);
    expect(seqs(store)).toEqual([1, 2, 3, 4, 5]);
    await store.onMessage(m5);
    await store.onMessage(server.all[2]!);
    expect(seqs(store)).toEqual([1, 2, 3, 4, 5]);
    expect(store.conversations.value[0]!.last_seq).toBe(5);
  });

  it("waits for messages that were overtaken instead of fetching them (§8.6)", async () => {
    const { store, connect, server } = await setup(2);
    store.reorderWindowMs = 40;
    await connect();
    for (let i = 0; i < 4; i++) server.append();
    const [m3, m4, m5, m6] = server.all.slice(2);
    for (const m of [m5!, m3!, m6!, m4!]) await store.onMessage(m);
    await new Promise((r) => setTimeout(r, 80));
    expect(seqs(store)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(server.calls.filter((c) => c.startsWith("history") && c.includes("after"))).toEqual([]);
  });

  it("fetches a message that never came live once the window passed", async () => {
    const { store, connect, server } = await setup(2);
    store.reorderWindowMs = 20;
    await connect();
    for (let i = 0; i < 3; i++) server.append();
    const [, m4, m5] = server.all.slice(2);
    for (const m of [m5!, m4!]) await store.onMessage(m); // 3 is lost
    expect(seqs(store)).toEqual([1, 2, 4, 5]);
    await new Promise((r) => setTimeout(r, 60));
    await settle(store);
    expect(seqs(store)).toEqual([1, 2, 3, 4, 5]);
    expect(server.calls.filter((c) => c.startsWith("history") && c.includes("after"))).toHaveLength(1);
  });

  it("tries a sync refused for its budget again when the server says", async () => {
    const { store, connect, server } = await setup(1);
    const sync = server.api.sync.bind(server.api);
    let refusals = 1;
    server.api.sync = async (since: number) => {
      if (refusals-- > 0) throw new ApiError("rate_limited", "wait", 429, 300);
      return sync(since);
    };
    await connect();
    expect(store.synced.value).toBe(false);
    await new Promise((r) => setTimeout(r, 350));
    await settle(store);
    expect(store.synced.value).toBe(true);
    expect(seqs(store)).toEqual([1]);
  });

  it("catches up after being offline, from the cursor it stored", async () => {
    const { store, connect, server, transport } = await setup(1);
    await connect();
    transport.disconnect();
    server.append(); server.append();
    server.bumpCursor();
    store.synced.value = false;
    await connect();
    expect(server.calls.filter((c) => c.startsWith("sync"))).toEqual(["sync 0", "sync 10"]);
    expect(seqs(store)).toEqual([1, 2, 3]);
  });

  it("skips user events already applied live", async () => {
    const { store, connect } = await setup(0);
    await connect();
    const ev = { cursor: 12, at: 0, change: { type: "friend_updated" as const, user_id: 2, remark: "B" } };
    store.friends.value = [{ user: { id: 2, username: "bob", display_name: "bob", created_at: 0 }, remark: null, since: 0, online: false, last_seen_at: null, conversation_id: 1 }];
    store.applyUserEvent(ev);
    store.applyUserEvent({ ...ev, change: { ...ev.change, remark: "again" } });
    expect(store.friends.value[0]!.remark).toBe("B");
    store.applyUserEvent({ cursor: 5, at: 0, change: { type: "friend_updated", user_id: 2, remark: "old" } });
    expect(store.friends.value[0]!.remark).toBe("B");
  });
});

describe("ChatStore optimistic sends", () => {
  it("shows a send at once, then confirms it exactly once", async () => {
    const { store, connect } = await setup(1);
    await connect();
    const p = store.sendText(1, "hi");
    expect(store.pending.value.map((x) => x.client_msg_id)).toEqual([p.client_msg_id]);
    await settle(store);
    expect(store.pending.value).toEqual([]);
    expect(seqs(store)).toEqual([1, 2]);
    expect(store.timeline(1).value.messages[1]!.client_msg_id).toBe(p.client_msg_id);
    expect(store.conversations.value[0]!.read_seq).toBe(2);
  });

  it("keeps a send pending while offline and sends it with the same id on reconnect", async () => {
    const { store, connect, transport, server } = await setup(1);
    await connect();
    transport.disconnect();
    const p = store.sendText(1, "later");
    await settle(store);
    expect(store.pending.value).toHaveLength(1);
    store.synced.value = false;
    await connect();
    const sends = transport.sent.filter((r) => r.type === "send");
    expect(sends.every((r) => r.type === "send" && r.client_msg_id === p.client_msg_id)).toBe(true);
    expect(store.pending.value).toEqual([]);
    expect(server.all.filter((m) => m.client_msg_id === p.client_msg_id)).toHaveLength(1);
  });

  it("a send stored but unacknowledged before a drop is retried and never shows twice", async () => {
    const { store, connect, transport, server } = await setup(1);
    await connect();
    transport.dropNextSend = true;
    const p = store.sendText(1, "once");
    await settle(store);
    expect(store.pending.value).toHaveLength(1);
    // The stored message also arrives through history on the next catch-up.
    transport.disconnect();
    store.synced.value = false;
    await connect();
    expect(server.all.filter((m) => m.client_msg_id === p.client_msg_id)).toHaveLength(1);
    expect(store.pending.value).toEqual([]);
    expect(seqs(store)).toEqual([1, 2]);
  });

  it("a refused send is marked failed and not retried by itself", async () => {
    const { store, connect, transport } = await setup(1);
    await connect();
    transport.request = (async () => { throw new SocketError("not_friends", "no"); }) as typeof transport.request;
    store.sendText(1, "nope");
    await settle(store);
    expect(store.pending.value[0]!.error).toBe("not_friends");
    store.discardSend(store.pending.value[0]!.client_msg_id);
    expect(store.pending.value).toEqual([]);
  });

  it("the server's acknowledgement in a sparse timeline fills the gap", async () => {
    const { store, connect, server } = await setup(1);
    await connect();
    server.append(); // someone else's message we have not seen
    store.sendText(1, "mine");
    await settle(store);
    expect(seqs(store)).toEqual([1, 2, 3]);
  });
});

describe("ChatStore presence", () => {
  it("is unknown while disconnected, not the last presence heard", async () => {
    const { store, transport, connect } = await setup(0);
    const bob = { user: { id: 2, username: "bob", display_name: "bob", created_at: 0 }, remark: null,
      conversation_id: 1, online: true, last_seen_at: null, since: 0 } as unknown as import("../generated/protocol").Friend;
    expect(store.presenceOf(bob)).toBe(null);
    await connect();
    expect(store.presenceOf(bob)).toBe(true);
    expect(store.presenceOf({ ...bob, online: false })).toBe(false);
    transport.disconnect();
    expect(store.presenceOf(bob)).toBe(null);
    expect(store.presenceOf(undefined)).toBe(null);
  });
});

describe("contacts flows", () => {
  it("accepting a request costs two calls, and its friend_added event adds none", async () => {
    const { store, connect, server } = await setup(0);
    await connect();
    const bob = { id: 2, username: "bob", display_name: "Bob", created_at: 0 };
    const friend = { user: bob, remark: null, conversation_id: 7, since: 1, online: false, last_seen_at: null };
    const request = { id: 41, from: bob, to: { id: ME, username: "me", display_name: "me", created_at: 0 }, greeting: "hi", status: "pending" as const, created_at: 1, updated_at: 1 };
    store.contacts.upsertRequest(request as never);
    const api = server.api as unknown as Record<string, unknown>;
    const asked: string[] = [];
    api["acceptRequest"] = async (id: number) => { asked.push(`accept ${id}`); return friend; };
    api["conversation"] = async (id: number) => {
      asked.push(`conversation ${id}`);
      return { ...summary(0), id, name: "Bob" };
    };
    api["friends"] = async () => { asked.push("friends"); return { friends: [friend], next: null }; };
    api["friendRequests"] = async () => { asked.push("requests"); return { incoming: [], outgoing: [], next: null }; };

    await store.contacts.accept(41);
    // The other side's event arrives after the reply, as it does on other devices.
    store.applyUserEvent({ cursor: 99, at: 2, change: { type: "friend_added", friend } } as never);
    await settle(store);

    expect(asked).toEqual(["accept 41", "conversation 7"]);
    expect(store.friends.value.map((f) => f.user.id)).toEqual([2]);
    expect(store.requests.value.incoming).toEqual([]);
    expect(store.conversations.value.some((c) => c.id === 7)).toBe(true);
  });
});
