// Contacts: the flows of the Contacts screen (search, requests, friends, blocks,
// new groups). Views call these and render the store's signals; only this layer
// talks to the network. Each flow makes the fewest calls it can: the replies
// carry what changed, and events fill in the rest.
import type { ConversationSummary, Friend, FriendRequestOutcome, UserProfile } from "../generated/protocol";
import type { ChatStore } from "./store";

export class Contacts {
  constructor(private readonly store: ChatStore) {}

  async search(query: string): Promise<UserProfile[]> {
    const page = await this.store.api.searchUsers(query.trim());
    this.store.rememberPeople(page.users);
    return page.users;
  }

  /** Sends a request; if they had asked already, that makes friends at once. */
  async sendRequest(user: UserProfile, greeting: string): Promise<FriendRequestOutcome> {
    const outcome = await this.store.api.sendFriendRequest(user.id, greeting.trim());
    if (outcome.outcome === "friends") await this.befriended(outcome.friend);
    else this.store.upsertRequest(outcome.request);
    return outcome;
  }

  /** Accepts: two calls (the accept and, if not known yet, the conversation). */
  async accept(requestId: number): Promise<Friend> {
    const friend = await this.store.api.acceptRequest(requestId);
    this.store.dropRequest(requestId);
    await this.befriended(friend);
    return friend;
  }

  async decline(requestId: number): Promise<void> {
    await this.store.api.declineRequest(requestId);
    this.store.dropRequest(requestId);
  }

  async cancel(requestId: number): Promise<void> {
    await this.store.api.cancelRequest(requestId);
    this.store.dropRequest(requestId);
  }

  async setRemark(friend: Friend, remark: string): Promise<void> {
    const value = remark.trim() || null;
    await this.store.api.setRemark(friend.user.id, value);
    this.store.friends.value = this.store.friends.value.map((f) => (f.user.id === friend.user.id ? { ...f, remark: value } : f));
    this.store.persistSoon();
  }

  async block(userId: number): Promise<void> {
    await this.store.api.block(userId);
    await this.store.refreshBlocks();
  }

  async unblock(userId: number): Promise<void> {
    await this.store.api.unblock(userId);
    await this.store.refreshBlocks();
  }

  async remove(userId: number): Promise<void> {
    await this.store.api.removeFriend(userId);
    this.store.friends.value = this.store.friends.value.filter((f) => f.user.id !== userId);
    this.store.persistSoon();
  }

  async createGroup(name: string, memberIds: number[]): Promise<ConversationSummary> {
    const group = await this.store.api.createGroup(name.trim(), memberIds);
    this.store.addConversation(group);
    return group;
  }

  private async befriended(friend: Friend): Promise<void> {
    this.store.addFriend(friend);
    await this.store.ensureConversation(friend.conversation_id);
  }
}
