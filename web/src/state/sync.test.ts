import { describe, expect, it } from "vitest";
import { ApiError } from "../net/api";
import { settle, setup } from "../testing/fakes";
import type { ChatStore } from "./store";

const seqs = (store: ChatStore) => store.timelines.timeline(1).value.messages.map((m) => m.seq);

describe("sync", () => {
  it("a first sync loads the newest page of each conversation", async () => {
    const { store, connect, server } = await setup(3);
    await connect();
    expect(server.calls[0]).toBe("sync 0");
    expect(seqs(store)).toEqual([1, 2, 3]);
    expect(store.conversations.list.value[0]!.unread).toBe(3);
  });

  it("fills a gap before applying a live message, and ignores duplicates", async () => {
    const { store, connect, server } = await setup(2);
    store.timelines.reorderWindowMs = 0;
    await connect();
    server.append(); server.append();
    const m5 = server.append();
    await store.sync.onMessage(m5);
    expect(server.calls, server.calls.join("; ")).toContain(`history ${JSON.stringify({ after: 2, limit: 100, before: 5 })}`);
    expect(seqs(store)).toEqual([1, 2, 3, 4, 5]);
    await store.sync.onMessage(m5);
    await store.sync.onMessage(server.all[2]!);
    expect(seqs(store)).toEqual([1, 2, 3, 4, 5]);
    expect(store.conversations.list.value[0]!.last_seq).toBe(5);
  });

  it("waits for messages that were overtaken instead of fetching them (§8.6)", async () => {
    const { store, connect, server } = await setup(2);
    store.timelines.reorderWindowMs = 40;
    await connect();
    for (let i = 0; i < 4; i++) server.append();
    const [m3, m4, m5, m6] = server.all.slice(2);
    for (const m of [m5!, m3!, m6!, m4!]) await store.sync.onMessage(m);
    await new Promise((r) => setTimeout(r, 80));
    expect(seqs(store)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(server.calls.filter((c) => c.startsWith("history") && c.includes("after"))).toEqual([]);
  });

  it("fetches a message that never came live once the window passed", async () => {
    const { store, connect, server } = await setup(2);
    store.timelines.reorderWindowMs = 20;
    await connect();
    for (let i = 0; i < 3; i++) server.append();
    const [, m4, m5] = server.all.slice(2);
    for (const m of [m5!, m4!]) await store.sync.onMessage(m); // 3 is lost
    expect(seqs(store)).toEqual([1, 2, 4, 5]);
    await new Promise((r) => setTimeout(r, 60));
    await settle(store);
    expect(seqs(store)).toEqual([1, 2, 3, 4, 5]);
    expect(server.calls.filter((c) => c.startsWith("history") && c.includes("after"))).toHaveLength(1);
  });

  it("tells the app about a live message from someone else, once", async () => {
    const { store, connect, server } = await setup(1);
    await connect();
    const told: number[] = [];
    store.onIncoming = (m) => told.push(m.seq);
    const m2 = server.append();
    await store.sync.onMessage(m2);
    await store.sync.onMessage(m2);
    await store.sync.onMessage(server.append(9));
    expect(told).toEqual([2]);
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
    expect(store.session.synced.value).toBe(false);
    await new Promise((r) => setTimeout(r, 350));
    await settle(store);
    expect(store.session.synced.value).toBe(true);
    expect(seqs(store)).toEqual([1]);
  });

  it("catches up after being offline, from the cursor it stored", async () => {
    const { store, connect, server, transport } = await setup(1);
    await connect();
    transport.disconnect();
    server.append(); server.append();
    server.bumpCursor();
    store.session.synced.value = false;
    await connect();
    expect(server.calls.filter((c) => c.startsWith("sync"))).toEqual(["sync 0", "sync 10"]);
    expect(seqs(store)).toEqual([1, 2, 3]);
  });

  it("skips user events already applied live", async () => {
    const { store, connect } = await setup(0);
    await connect();
    const ev = { cursor: 12, at: 0, change: { type: "friend_updated" as const, user_id: 2, remark: "B" } };
    store.contacts.friends.value = [{ user: { id: 2, username: "bob", display_name: "bob", created_at: 0 }, remark: null, since: 0, online: false, last_seen_at: null, conversation_id: 1 }];
    store.sync.applyUserEvent(ev);
    store.sync.applyUserEvent({ ...ev, change: { ...ev.change, remark: "again" } });
    expect(store.contacts.friends.value[0]!.remark).toBe("B");
    store.sync.applyUserEvent({ cursor: 5, at: 0, change: { type: "friend_updated", user_id: 2, remark: "old" } });
    expect(store.contacts.friends.value[0]!.remark).toBe("B");
  });

  it("leaving a conversation forgets its summary, timeline and members", async () => {
    const { store, connect } = await setup(2);
    await connect();
    store.members.of(1).value = [];
    store.conversations.activeId.value = 1;
    store.sync.applyUserEvent({ cursor: 20, at: 0, change: { type: "conversation_left", conversation_id: 1, removed_by: null } } as never);
    expect(store.conversations.list.value).toEqual([]);
    expect(store.conversations.activeId.value).toBe(null);
    expect(store.members.isShown(1)).toBe(false);
    expect(seqs(store)).toEqual([]);
  });
});
