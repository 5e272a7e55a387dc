import { describe, expect, it } from "vitest";
import type { Friend } from "../generated/protocol";
import { ME_PROFILE, settle, setup, summary } from "../testing/fakes";
import { ContactsViewModel, FriendViewModel } from "./contacts";

const bob = { id: 2, username: "bob", display_name: "Bob", created_at: 0 };
const bobFriend: Friend = { user: bob, remark: null, conversation_id: 7, since: 1, online: false, last_seen_at: null };

describe("contacts view model", () => {
  it("accepting a request asks for the accept and the new chat, and shows the friend", async () => {
    const { store, connect, server } = await setup(0);
    await connect();
    const asked: string[] = [];
    server.route("acceptRequest", async (id: number) => { asked.push(`accept ${id}`); return bobFriend; });
    server.route("conversation", async (id: number) => { asked.push(`conversation ${id}`); return summary(0, { id, name: "Bob" }); });
    store.contacts.upsertRequest({ id: 41, from: bob, to: ME_PROFILE, greeting: "hi", status: "pending", created_at: 1, updated_at: 1 } as never);
    const vm = new ContactsViewModel(store);
    expect(vm.incoming.value.map((r) => r.id)).toEqual([41]);

    await vm.accept(41);
    await settle(store);

    expect(asked).toEqual(["accept 41", "conversation 7"]);
    expect(vm.incoming.value).toEqual([]);
    expect(vm.friends.value.map((f) => f.user.id)).toEqual([2]);
    expect(vm.friendOf(2)?.conversation_id).toBe(7);
    expect(store.conversations.find(7)?.name).toBe("Bob");
  });

  it("lists friends for a picker by the name I gave them", async () => {
    const { store } = await setup(0);
    store.contacts.setFriends([{ ...bobFriend, remark: "Bobby" }]);
    const vm = new ContactsViewModel(store);
    expect(vm.friendOptions.value).toEqual([{ id: 2, name: "Bobby" }]);
    expect(vm.isMe(ME_PROFILE.id)).toBe(true);
  });

  it("blocking a friend shows them blocked once the server's list says so", async () => {
    const { store, server } = await setup(0);
    store.contacts.setFriends([bobFriend]);
    const asked: string[] = [];
    server.route("block", async (id: number) => { asked.push(`block ${id}`); return { ok: true }; });
    server.route("blocks", async () => { asked.push("blocks"); return { users: [bob] }; });
    const vm = new FriendViewModel(store, 2);
    expect(vm.blocked.value).toBe(false);
    await vm.block();
    expect(asked).toEqual(["block 2", "blocks"]);
    expect(vm.blocked.value).toBe(true);
  });
});
