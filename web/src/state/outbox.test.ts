import { describe, expect, it } from "vitest";
import { SocketError } from "../net/socket";
import { settle, setup } from "../testing/fakes";
import type { ChatStore } from "./store";

const seqs = (store: ChatStore) => store.timelines.timeline(1).value.messages.map((m) => m.seq);

describe("optimistic sends", () => {
  it("shows a send at once, then confirms it exactly once", async () => {
    const { store, connect } = await setup(1);
    await connect();
    const p = store.outbox.send(1, "hi");
    expect(store.outbox.pending.value.map((x) => x.client_msg_id)).toEqual([p.client_msg_id]);
    await settle(store);
    expect(store.outbox.pending.value).toEqual([]);
    expect(seqs(store)).toEqual([1, 2]);
    expect(store.timelines.timeline(1).value.messages[1]!.client_msg_id).toBe(p.client_msg_id);
    expect(store.conversations.list.value[0]!.read_seq).toBe(2);
  });

  it("keeps a send pending while offline and sends it with the same id on reconnect", async () => {
    const { store, connect, transport, server } = await setup(1);
    await connect();
    transport.disconnect();
    const p = store.outbox.send(1, "later");
    await settle(store);
    expect(store.outbox.pending.value).toHaveLength(1);
    store.session.synced.value = false;
    await connect();
    const sends = transport.sent.filter((r) => r.type === "send");
    expect(sends.every((r) => r.type === "send" && r.client_msg_id === p.client_msg_id)).toBe(true);
    expect(store.outbox.pending.value).toEqual([]);
    expect(server.all.filter((m) => m.client_msg_id === p.client_msg_id)).toHaveLength(1);
  });

  it("a send stored but unacknowledged before a drop is retried and never shows twice", async () => {
    const { store, connect, transport, server } = await setup(1);
    await connect();
    transport.dropNextSend = true;
    const p = store.outbox.send(1, "once");
    await settle(store);
    expect(store.outbox.pending.value).toHaveLength(1);
    // The stored message also arrives through history on the next catch-up.
    transport.disconnect();
    store.session.synced.value = false;
    await connect();
    expect(server.all.filter((m) => m.client_msg_id === p.client_msg_id)).toHaveLength(1);
    expect(store.outbox.pending.value).toEqual([]);
    expect(seqs(store)).toEqual([1, 2]);
  });

  it("a refused send is marked failed and not retried by itself", async () => {
    const { store, connect, transport } = await setup(1);
    await connect();
    transport.request = (async () => { throw new SocketError("not_friends", "no"); }) as typeof transport.request;
    store.outbox.send(1, "nope");
    await settle(store);
    expect(store.outbox.pending.value[0]!.error).toBe("not_friends");
    store.outbox.discard(store.outbox.pending.value[0]!.client_msg_id);
    expect(store.outbox.pending.value).toEqual([]);
  });

  it("the server's acknowledgement in a sparse timeline fills the gap", async () => {
    const { store, connect, server } = await setup(1);
    await connect();
    server.append(); // someone else's message we have not seen
    store.outbox.send(1, "mine");
    await settle(store);
    expect(seqs(store)).toEqual([1, 2, 3]);
  });
});
