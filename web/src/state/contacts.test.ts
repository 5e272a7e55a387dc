import { describe, expect, it } from "vitest";
import type { Friend } from "../generated/protocol";
import { ME_PROFILE, settle, setup, summary } from "../testing/fakes";

const bob = { id: 2, username: "bob", display_name: "Bob", created_at: 0 };
const bobFriend: Friend = { user: bob, remark: null, conversation_id: 7, since: 1, online: true, last_seen_at: null };

describe("presence", () => {
  it("is unknown while disconnected, not the last presence heard", async () => {
    const { store, transport, connect } = await setup(0);
    expect(store.contacts.presenceOf(bobFriend)).toBe(null);
    await connect();
    expect(store.contacts.presenceOf(bobFriend)).toBe(true);
    expect(store.contacts.presenceOf({ ...bobFriend, online: false })).toBe(false);
    transport.disconnect();
    expect(store.contacts.presenceOf(bobFriend)).toBe(null);
    expect(store.contacts.presenceOf(undefined)).toBe(null);
  });
});

describe("contacts flows", () => {
  it("accepting a request costs two calls, and its friend_added event adds none", async () => {
    const { store, connect, server } = await setup(0);
    await connect();
    const request = { id: 41, from: bob, to: ME_PROFILE, greeting: "hi", status: "pending" as const, created_at: 1, updated_at: 1 };
    store.contacts.upsertRequest(request as never);
    const asked: string[] = [];
    server.route("acceptRequest", async (id: number) => { asked.push(`accept ${id}`); return bobFriend; });
    server.route("conversation", async (id: number) => { asked.push(`conversation ${id}`); return summary(0, { id, name: "Bob" }); });
    server.route("friends", async () => { asked.push("friends"); return { friends: [bobFriend], next: null }; });
    server.route("friendRequests", async () => { asked.push("requests"); return { incoming: [], outgoing: [], next: null }; });

    await store.contacts.accept(41);
    // The other side's event arrives after the reply, as it does on other devices.
    store.sync.applyUserEvent({ cursor: 99, at: 2, change: { type: "friend_added", friend: bobFriend } } as never);
    await settle(store);

    expect(asked).toEqual(["accept 41", "conversation 7"]);
    expect(store.contacts.friends.value.map((f) => f.user.id)).toEqual([2]);
    expect(store.contacts.requests.value.incoming).toEqual([]);
    expect(store.conversations.list.value.some((c) => c.id === 7)).toBe(true);
  });
});
