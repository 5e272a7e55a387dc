// Contacts: friends, requests, blocks and the people seen anywhere, with the
// flows that change them (search, requests, remarks, blocks, new groups). Each
// flow makes the fewest calls it can: the replies carry what changed, and
// events fill in the rest.
import { batch, signal } from "@preact/signals";
import type {
  ConversationSummary, Friend, FriendRequest, FriendRequestList, FriendRequestOutcome, UserProfile,
} from "../generated/protocol";
import type { Conversations } from "./conversations";
import type { Session } from "./session";

const NO_REQUESTS: FriendRequestList = { incoming: [], outgoing: [], next: null };

export class Contacts {
  readonly friends = signal<Friend[]>([]);
  readonly requests = signal<FriendRequestList>(NO_REQUESTS);
  readonly blocks = signal<UserProfile[]>([]);
  /** Profiles seen anywhere (members, friends, search), for names in groups and system messages. */
  readonly people = signal<Record<number, UserProfile>>({});
  private lookingUp = new Set<number>();

  constructor(private readonly session: Session, private readonly conversations: Conversations) {
    session.persist("friends", () => this.friends.value);
    session.persist("requests", () => this.requests.value);
    session.persist("blocks", () => this.blocks.value);
  }

  async restore(): Promise<() => void> {
    const cache = this.session.cache;
    const [friends, requests, blocks] = await Promise.all([
      cache.get<Friend[]>("friends"), cache.get<FriendRequestList>("requests"), cache.get<UserProfile[]>("blocks"),
    ]);
    return () => {
      if (friends) this.setFriends(friends);
      if (requests) this.requests.value = requests;
      if (blocks) this.blocks.value = blocks;
    };
  }

  /** All three lists from the server (a reset sync). */
  async reload(): Promise<void> {
    const api = this.session.api;
    const [friends, requests, blocks] = await Promise.all([api.friends(), api.friendRequests(), api.blocks()]);
    batch(() => {
      this.setFriends(friends.friends);
      this.requests.value = requests;
      this.blocks.value = blocks.users;
    });
  }

  /** Forgets everything (logout). */
  reset(): void {
    this.friends.value = [];
    this.requests.value = NO_REQUESTS;
    this.blocks.value = [];
    this.people.value = {};
    this.lookingUp.clear();
  }

  setFriends(friends: Friend[]): void {
    this.friends.value = [...friends].sort((a, b) => a.user.username.localeCompare(b.user.username));
    this.rememberPeople(friends.map((f) => f.user));
  }

  addFriend(friend: Friend): void {
    this.setFriends([...this.friends.value.filter((f) => f.user.id !== friend.user.id), friend]);
    this.session.persistSoon();
  }

  dropFriend(userId: number): void {
    this.friends.value = this.friends.value.filter((f) => f.user.id !== userId);
  }

  noteRemark(userId: number, remark: string | null): void {
    this.friends.value = this.friends.value.map((f) => (f.user.id === userId ? { ...f, remark } : f));
  }

  upsertRequest(request: FriendRequest): void {
    const { incoming, outgoing } = this.requests.value;
    const drop = (l: FriendRequest[]) => l.filter((x) => x.id !== request.id);
    this.requests.value = request.from.id === this.session.myId
      ? { incoming: drop(incoming), outgoing: [request, ...drop(outgoing)], next: null }
      : { incoming: [request, ...drop(incoming)], outgoing: drop(outgoing), next: null };
    this.rememberPeople([request.from, request.to]);
    this.session.persistSoon();
  }

  dropRequest(id: number): void {
    const { incoming, outgoing } = this.requests.value;
    this.requests.value = { incoming: incoming.filter((r) => r.id !== id), outgoing: outgoing.filter((r) => r.id !== id), next: null };
    this.session.persistSoon();
  }

  async refreshFriends(): Promise<void> {
    try {
      this.setFriends((await this.session.api.friends()).friends);
      this.session.persistSoon();
    } catch {
      // Offline: keep the cached list.
    }
  }

  async refreshRequests(): Promise<void> {
    try { this.requests.value = await this.session.api.friendRequests(); this.session.persistSoon(); } catch { /* offline */ }
  }

  async refreshBlocks(): Promise<void> {
    try { this.blocks.value = (await this.session.api.blocks()).users; this.session.persistSoon(); } catch { /* offline */ }
  }

  rememberPeople(users: readonly UserProfile[]): void {
    const cur = this.people.value;
    if (users.every((u) => cur[u.id]?.display_name === u.display_name)) return;
    const next = { ...cur };
    for (const u of users) next[u.id] = u;
    this.people.value = next;
  }

  /** How a user is called here: my remark for a friend, else their display name. */
  nameOf(userId: number): string {
    const me = this.session.me.value;
    if (me && userId === me.id) return me.display_name;
    const f = this.friends.value.find((x) => x.user.id === userId);
    if (f) return f.remark || f.user.display_name;
    const p = this.people.value[userId];
    if (p) return p.display_name;
    void this.lookUp(userId);
    return `#${userId}`;
  }

  /**
   * A friend's presence as far as this device knows it: `null` (unknown)
   * while disconnected, since what was last heard may no longer be true.
   */
  presenceOf(friend: Friend | undefined): boolean | null {
    if (!friend || this.session.conn.value !== "online") return null;
    return friend.online;
  }

  /** A friend came online or went offline. */
  onPresence(userId: number, online: boolean, lastSeenAt: number | null): void {
    this.friends.value = this.friends.value.map((f) =>
      f.user.id === userId ? { ...f, online, last_seen_at: lastSeenAt } : f);
  }

  /** A friend's new display name. */
  onProfile(user: UserProfile): void {
    this.friends.value = this.friends.value.map((f) => (f.user.id === user.id ? { ...f, user } : f));
    this.rememberPeople([user]);
  }

  private async lookUp(userId: number): Promise<void> {
    if (this.lookingUp.has(userId) || !this.session.token) return;
    this.lookingUp.add(userId);
    try { this.rememberPeople([await this.session.api.user(userId)]); } catch { /* stays #id */ }
  }

  async search(query: string): Promise<UserProfile[]> {
    const page = await this.session.api.searchUsers(query.trim());
    this.rememberPeople(page.users);
    return page.users;
  }

  /** Sends a request; if they had asked already, that makes friends at once. */
  async sendRequest(user: UserProfile, greeting: string): Promise<FriendRequestOutcome> {
    const outcome = await this.session.api.sendFriendRequest(user.id, greeting.trim());
    if (outcome.outcome === "friends") await this.befriended(outcome.friend);
    else this.upsertRequest(outcome.request);
    return outcome;
  }

  /** Accepts: two calls (the accept and, if not known yet, the conversation). */
  async accept(requestId: number): Promise<Friend> {
    const friend = await this.session.api.acceptRequest(requestId);
    this.dropRequest(requestId);
    await this.befriended(friend);
    return friend;
  }

  async decline(requestId: number): Promise<void> {
    await this.session.api.declineRequest(requestId);
    this.dropRequest(requestId);
  }

  async cancel(requestId: number): Promise<void> {
    await this.session.api.cancelRequest(requestId);
    this.dropRequest(requestId);
  }

  async setRemark(friend: Friend, remark: string): Promise<void> {
    const value = remark.trim() || null;
    await this.session.api.setRemark(friend.user.id, value);
    this.noteRemark(friend.user.id, value);
    this.session.persistSoon();
  }

  async block(userId: number): Promise<void> {
    await this.session.api.block(userId);
    await this.refreshBlocks();
  }

  async unblock(userId: number): Promise<void> {
    await this.session.api.unblock(userId);
    await this.refreshBlocks();
  }

  async remove(userId: number): Promise<void> {
    await this.session.api.removeFriend(userId);
    this.dropFriend(userId);
    this.session.persistSoon();
  }

  async createGroup(name: string, memberIds: number[]): Promise<ConversationSummary> {
    const group = await this.session.api.createGroup(name.trim(), memberIds);
    this.conversations.add(group);
    return group;
  }

  private async befriended(friend: Friend): Promise<void> {
    this.addFriend(friend);
    await this.conversations.ensure(friend.conversation_id);
  }
}
