import { describe, expect, it } from "vitest";
import type { Friend } from "../generated/protocol";
import { msg, settle, setup, summary } from "../testing/fakes";
import { ChatViewModel } from "./chat";
import { InfoPanelViewModel } from "./info";

const bob = { id: 2, username: "bob", display_name: "bob", created_at: 0 };
const bobFriend: Friend = { user: bob, remark: null, conversation_id: 1, since: 0, online: false, last_seen_at: 5000 };

describe("chat view model", () => {
  it("says a friend's presence only while connected", async () => {
    const { store, connect, transport } = await setup(1);
    store.conversations.upsert([summary(1)]);
    store.contacts.setFriends([bobFriend]);
    const vm = new ChatViewModel(store, 1);
    expect(vm.subtitle.value).toEqual({ kind: "unknown" });
    await connect();
    store.contacts.setFriends([bobFriend]);
    expect(vm.subtitle.value).toEqual({ kind: "lastSeen", at: 5000 });
    store.contacts.onPresence(2, true, null);
    expect(vm.subtitle.value).toEqual({ kind: "online" });
    transport.disconnect();
    expect(vm.subtitle.value).toEqual({ kind: "unknown" });
  });

  it("opening makes the chat active until it closes, and reading marks what is held", async () => {
    const { store, connect, transport } = await setup(3);
    await connect();
    const vm = new ChatViewModel(store, 1);
    const close = vm.open();
    expect(store.conversations.activeId.value).toBe(1);
    await settle(store);
    vm.timeline.markRead();
    expect(transport.sent.filter((r) => r.type === "read")).toEqual([{ type: "read", conversation_id: 1, seq: 3 }]);
    expect(store.conversations.find(1)!.unread).toBe(0);
    close();
    expect(store.conversations.activeId.value).toBe(null);
  });

  it("the timeline shows a pending send after the held messages, once", async () => {
    const { store, connect, transport } = await setup(2);
    await connect();
    const vm = new ChatViewModel(store, 1);
    transport.disconnect();
    store.outbox.send(1, "later");
    expect(vm.timeline.items.value.map((it) => it.kind)).toEqual(["message", "message", "pending"]);
    store.timelines.addMessages(1, [{ ...msg(3, 9, store.outbox.pending.value[0]!.client_msg_id) }]);
    expect(vm.timeline.items.value.map((it) => it.kind)).toEqual(["message", "message", "message"]);
  });
});

describe("info panel view model", () => {
  it("offers to invite the friends who are not members, and what my role allows", async () => {
    const { store } = await setup(0);
    const carol = { id: 3, username: "carol", display_name: "Carol", created_at: 0 };
    store.conversations.upsert([summary(0, { id: 4, kind: "group", peer: null, my_role: "admin" })]);
    store.contacts.setFriends([bobFriend, { ...bobFriend, user: carol, remark: "C" }]);
    store.members.of(4).value = [{ user: bob, role: "member", read_seq: 0, joined_at: 0 } as never];
    const vm = new InfoPanelViewModel(store, 4);
    expect(vm.invitable.value).toEqual([{ id: 3, name: "C" }]);
    expect(vm.can("rename")).toBe(true);
    expect(vm.can("kick", "member")).toBe(true);
    expect(vm.can("transfer", "member")).toBe(false);
  });
});
