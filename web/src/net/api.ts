// HTTP JSON client for /api/v1. Knows nothing about the DOM or app state.
import type {
  BlockList, ConversationList, ConversationSummary, DeviceList, ErrorBody, ErrorCode, ErrorReason, Friend,
  FriendList, FriendRequestList, FriendRequestOutcome, LoginResponse, MemberList, MessagePage,
  Ok, ReadPosition, Role, SendMessageResponse, SyncResponse, UserProfile, UserSearchPage,
} from "../generated/protocol";

/** A failed request: the server's stable `code`, or `network` when it was never answered. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode | "network",
    message: string,
    readonly status: number,
    readonly retryAfterMs?: number,
    /** Which rule refused, where the code covers several (password rules). */
    readonly reason?: ErrorReason,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export type Fetcher = typeof fetch;

export class Api {
  token: string | null = null;
  constructor(private readonly base = "/api/v1", private readonly fetcher: Fetcher = (...a) => fetch(...a)) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers["Authorization"] = `Bearer ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await this.fetcher(this.base + path, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (e) {
      throw new ApiError("network", String(e), 0);
    }
    let data: unknown = null;
    try {
      data = await res.json();
    } catch {
      // A non-JSON body (a proxy's error page): fall through with null.
    }
    if (!res.ok) {
      const err = (data ?? {}) as Partial<ErrorBody>;
      throw new ApiError(err.code ?? "internal", err.message ?? res.statusText, res.status, err.retry_after_ms, err.reason);
    }
    return data as T;
  }

  register(username: string, password: string, display_name?: string) {
    return this.call<UserProfile>("POST", "/auth/register", { username, password, display_name });
  }
  login(username: string, password: string, device: string) {
    return this.call<LoginResponse>("POST", "/auth/login", { username, password, device });
  }
  logout() { return this.call<Ok>("POST", "/auth/logout"); }
  me() { return this.call<UserProfile>("GET", "/me"); }
  updateMe(display_name: string) { return this.call<UserProfile>("PATCH", "/me", { display_name }); }
  changePassword(old_password: string, new_password: string) {
    return this.call<Ok>("POST", "/me/password", { old_password, new_password });
  }
  devices() { return this.call<DeviceList>("GET", "/devices"); }
  revokeDevice(id: number) { return this.call<Ok>("DELETE", `/devices/${id}`); }
  searchUsers(q: string) { return this.call<UserSearchPage>("GET", `/users?q=${encodeURIComponent(q)}&limit=20`); }
  user(id: number) { return this.call<UserProfile>("GET", `/users/${id}`); }
  /** Every pending request, both ways, newest first, page after page. */
  async friendRequests() {
    const all = await this.call<FriendRequestList>("GET", "/friend-requests");
    while (all.next) {
      const page = await this.call<FriendRequestList>("GET", `/friend-requests?after=${encodeURIComponent(all.next)}`);
      all.incoming.push(...page.incoming);
      all.outgoing.push(...page.outgoing);
      all.next = page.next;
    }
    return all;
  }
  sendFriendRequest(user_id: number, greeting: string) {
    return this.call<FriendRequestOutcome>("POST", "/friend-requests", { user_id, greeting });
  }
  acceptRequest(id: number) { return this.call<Friend>("POST", `/friend-requests/${id}/accept`); }
  declineRequest(id: number) { return this.call<Ok>("POST", `/friend-requests/${id}/decline`); }
  cancelRequest(id: number) { return this.call<Ok>("DELETE", `/friend-requests/${id}`); }
  /** Every page of a paged list (friends, conversations, members), merged. */
  private async allPages<T extends { next: string | null }>(path: string, items: (page: T) => unknown[]): Promise<T> {
    const all = await this.call<T>("GET", path);
    while (all.next) {
      const page = await this.call<T>("GET", `${path}?after=${encodeURIComponent(all.next)}`);
      items(all).push(...items(page));
      all.next = page.next;
    }
    return all;
  }

  /** Every friend, page after page. */
  friends() { return this.allPages<FriendList>("/friends", (p) => p.friends); }
  setRemark(user_id: number, remark: string | null) { return this.call<Ok>("PATCH", `/friends/${user_id}`, { remark }); }
  removeFriend(user_id: number) { return this.call<Ok>("DELETE", `/friends/${user_id}`); }
  blocks() { return this.call<BlockList>("GET", "/blocks"); }
  block(user_id: number) { return this.call<Ok>("PUT", `/blocks/${user_id}`); }
  unblock(user_id: number) { return this.call<Ok>("DELETE", `/blocks/${user_id}`); }
  /** Every conversation, newest activity first, page after page. */
  conversations() { return this.allPages<ConversationList>("/conversations", (p) => p.conversations); }
  conversation(id: number) { return this.call<ConversationSummary>("GET", `/conversations/${id}`); }
  history(id: number, q: { before?: number; after?: number; limit?: number }) {
    const p = new URLSearchParams();
    if (q.before !== undefined) p.set("before", String(q.before));
    if (q.after !== undefined) p.set("after", String(q.after));
    p.set("limit", String(q.limit ?? 50));
    return this.call<MessagePage>("GET", `/conversations/${id}/messages?${p}`);
  }
  sendText(id: number, client_msg_id: string, text: string) {
    return this.call<SendMessageResponse>("POST", `/conversations/${id}/messages`, {
      client_msg_id, content: { kind: "text", text },
    });
  }
  markRead(id: number, seq: number) { return this.call<ReadPosition>("POST", `/conversations/${id}/read`, { seq }); }
  /** Every member of a conversation, page after page. */
  members(id: number) { return this.allPages<MemberList>(`/conversations/${id}/members`, (p) => p.members); }
  createGroup(name: string, members: number[]) { return this.call<ConversationSummary>("POST", "/groups", { name, members }); }
  updateGroup(id: number, patch: { name?: string; announcement?: string }) {
    return this.call<Ok>("PATCH", `/groups/${id}`, patch);
  }
  invite(id: number, user_ids: number[]) { return this.call<MemberList>("POST", `/groups/${id}/members`, { user_ids }); }
  removeMember(id: number, user_id: number) { return this.call<Ok>("DELETE", `/groups/${id}/members/${user_id}`); }
  setRole(id: number, user_id: number, role: Role) {
    return this.call<Ok>("PUT", `/groups/${id}/members/${user_id}/role`, { role });
  }
  transfer(id: number, user_id: number) { return this.call<Ok>("POST", `/groups/${id}/transfer`, { user_id }); }
  /** Everything after `since`: every page the server answers in, merged
   * (events in order, the newest summary of each conversation, the last cursor). */
  async sync(since: number): Promise<SyncResponse> {
    const merged = await this.syncPage(since, false);
    while (merged.has_more) {
      const page = await this.syncPage(merged.cursor, true);
      mergeSyncPage(merged, page);
    }
    return merged;
  }
  /** One page; `resume` when going on from a page that had more. */
  syncPage(since: number, resume: boolean) {
    return this.call<SyncResponse>("GET", `/sync?since=${since}${resume ? "&resume=true" : ""}`);
  }
}

/** Adds the next page of a sync to the earlier ones: its events after theirs,
 * its summaries over theirs (they are newer), its cursor. A reset stays one. */
export function mergeSyncPage(merged: SyncResponse, page: SyncResponse): void {
  merged.events.push(...page.events);
  const index = new Map(merged.conversations.map((c, i) => [c.id, i]));
  for (const c of page.conversations) {
    const at = index.get(c.id);
    if (at === undefined) { index.set(c.id, merged.conversations.length); merged.conversations.push(c); }
    else merged.conversations[at] = c;
  }
  merged.cursor = page.cursor;
  merged.has_more = page.has_more;
}
