// The info panel of a chat: a group's name, announcement and members, with
// what this user's role lets them do. Every change comes back as a system
// message; the member list is reloaded after each so roles show at once.
import { computed } from "@preact/signals";
import type { Member } from "../generated/protocol";
import type { ChatStore } from "../state/store";
import { can, type GroupAction } from "../state/text";
import { friendName, type FriendOption } from "./contacts";
import type { Names } from "./names";

export class InfoPanelViewModel implements Names {
  readonly conversation = computed(() => this.store.conversations.find(this.id));
  readonly members = computed<Member[]>(() => this.store.members.of(this.id).value ?? []);
  /** Friends who are not members yet. */
  readonly invitable = computed<FriendOption[]>(() => {
    const memberIds = new Set(this.members.value.map((m) => m.user.id));
    return this.store.contacts.friends.value.filter((f) => !memberIds.has(f.user.id))
      .map((f) => ({ id: f.user.id, name: friendName(f) }));
  });

  constructor(private readonly store: ChatStore, readonly id: number) {}

  get myId(): number { return this.store.session.myId; }
  nameOf(userId: number): string { return this.store.contacts.nameOf(userId); }

  /** Whether this user's role allows `action` (on a member of role `target`). */
  can(action: GroupAction, target?: Member["role"]): boolean {
    return can(this.conversation.value?.my_role ?? null, action, target);
  }

  rename(name: string) { return this.thenReload(this.store.groups.rename(this.id, name)); }
  announce(text: string) { return this.thenReload(this.store.groups.announce(this.id, text)); }
  invite(userIds: number[]) { return this.thenReload(this.store.groups.invite(this.id, userIds)); }
  /** Admins become members and members admins. */
  toggleAdmin(m: Member) { return this.thenReload(this.store.groups.setRole(this.id, m.user.id, m.role === "admin" ? "member" : "admin")); }
  transfer(userId: number) { return this.thenReload(this.store.groups.transfer(this.id, userId)); }
  kick(userId: number) { return this.thenReload(this.store.groups.kick(this.id, userId)); }
  leave(): Promise<void> { return this.store.groups.leave(this.id); }

  private async thenReload(change: Promise<unknown>): Promise<void> {
    await change;
    await this.store.members.load(this.id);
  }
}
