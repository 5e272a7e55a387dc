import { describe, expect, it } from "vitest";
import type { Friend } from "../generated/protocol";
import { msg, setup, summary } from "../testing/fakes";
import { ChatListViewModel } from "./chatList";

const carol = { id: 3, username: "carol", display_name: "Carol", created_at: 0 };

async function listWithThree() {
  const t = await setup(0);
  t.store.conversations.upsert([
    summary(2, { id: 1, updated_at: 100, unread: 2 }),
    summary(0, { id: 2, kind: "group", name: "Team", peer: null, updated_at: 300, unread: 0 }),
    summary(1, { id: 3, name: "carol", peer: carol, updated_at: 200, unread: 1 }),
  ]);
  return { ...t, vm: new ChatListViewModel(t.store) };
}

describe("chat list view model", () => {
  it("lists newest activity first, with each chat's unread count", async () => {
    const { vm } = await listWithThree();
    expect(vm.rows.value.map((r) => [r.conv.id, r.conv.unread])).toEqual([[2, 0], [3, 1], [1, 2]]);
  });

  it("a message from someone else moves its chat to the top and counts as unread", async () => {
    const { vm, store } = await listWithThree();
    store.timelines.addMessages(1, [{ ...msg(3), sent_at: 500 }]);
    expect(vm.rows.value.map((r) => r.conv.id)).toEqual([1, 2, 3]);
    expect(vm.rows.value[0]!.conv.unread).toBe(3);
  });

  it("titles a direct chat by my remark, and filters by it or the username", async () => {
    const { vm, store } = await listWithThree();
    const friend: Friend = { user: carol, remark: "Aunt C", conversation_id: 3, since: 0, online: true, last_seen_at: null };
    store.contacts.setFriends([friend]);
    expect(vm.rows.value.find((r) => r.conv.id === 3)!.title).toBe("Aunt C");
    vm.setFilter("aunt");
    expect(vm.rows.value.map((r) => r.conv.id)).toEqual([3]);
    vm.setFilter("CAROL");
    expect(vm.rows.value.map((r) => r.conv.id)).toEqual([3]);
    vm.setFilter("team");
    expect(vm.rows.value.map((r) => r.avatarSeed)).toEqual(["g2"]);
  });

  it("shows a friend's presence only while connected", async () => {
    const { vm, store, connect, transport } = await listWithThree();
    await connect(); // the first sync replaces the list with the server's
    store.conversations.upsert([summary(1, { id: 3, name: "carol", peer: carol }), summary(0, { id: 2, kind: "group", peer: null })]);
    store.contacts.setFriends([{ user: carol, remark: null, conversation_id: 3, since: 0, online: true, last_seen_at: null }]);
    const carolRow = () => vm.rows.value.find((r) => r.conv.id === 3)!;
    expect(carolRow().online).toBe(true);
    expect(vm.rows.value.find((r) => r.conv.id === 2)!.online).toBe(null);
    transport.disconnect();
    expect(carolRow().online).toBe(null);
  });
});
