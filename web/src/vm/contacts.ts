// The Contacts screen: finding people, requests both ways, friends, blocks and
// new groups; and one friend's actions, which the chat info panel shows too.
import { computed } from "@preact/signals";
import type { ConversationSummary, Friend, FriendRequestOutcome, UserProfile } from "../generated/protocol";
import type { ChatStore } from "../state/store";

/** A friend as a picker lists them: by the name this user gave them. */
export interface FriendOption { id: number; name: string }

export const friendName = (f: Friend) => f.remark || f.user.display_name;

export class ContactsViewModel {
  readonly incoming = computed(() => this.store.contacts.requests.value.incoming);
  readonly outgoing = computed(() => this.store.contacts.requests.value.outgoing);
  readonly friends = computed(() => this.store.contacts.friends.value);
  readonly blocks = computed(() => this.store.contacts.blocks.value);
  readonly friendOptions = computed<FriendOption[]>(() => this.friends.value.map((f) => ({ id: f.user.id, name: friendName(f) })));
  /** For the greeting a request suggests. */
  readonly myName = computed(() => this.store.session.me.value?.display_name ?? "");

  constructor(private readonly store: ChatStore) {}

  isMe(userId: number): boolean { return userId === this.store.session.myId; }
  friendOf(userId: number): Friend | undefined { return this.friends.value.find((f) => f.user.id === userId); }

  search(query: string): Promise<UserProfile[]> { return this.store.contacts.search(query); }
  sendRequest(user: UserProfile, greeting: string): Promise<FriendRequestOutcome> { return this.store.contacts.sendRequest(user, greeting); }
  accept(requestId: number): Promise<Friend> { return this.store.contacts.accept(requestId); }
  decline(requestId: number): Promise<void> { return this.store.contacts.decline(requestId); }
  cancel(requestId: number): Promise<void> { return this.store.contacts.cancel(requestId); }
  unblock(userId: number): Promise<void> { return this.store.contacts.unblock(userId); }
  createGroup(name: string, memberIds: number[]): Promise<ConversationSummary> { return this.store.contacts.createGroup(name, memberIds); }
}

/** One friend, by id: it stays current as presence, remark and blocks change. */
export class FriendViewModel {
  readonly friend = computed(() => this.store.contacts.friends.value.find((f) => f.user.id === this.userId));
  readonly online = computed(() => this.store.contacts.presenceOf(this.friend.value));
  readonly blocked = computed(() => this.store.contacts.blocks.value.some((u) => u.id === this.userId));

  constructor(private readonly store: ChatStore, readonly userId: number) {}

  async setRemark(remark: string): Promise<void> {
    const f = this.friend.value;
    if (f) await this.store.contacts.setRemark(f, remark);
  }
  block(): Promise<void> { return this.store.contacts.block(this.userId); }
  unblock(): Promise<void> { return this.store.contacts.unblock(this.userId); }
  remove(): Promise<void> { return this.store.contacts.remove(this.userId); }
}
