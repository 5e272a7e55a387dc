// HTTP JSON client for /api/v1. Knows nothing about the DOM or app state.
import type {
  BlockList, ConversationList, ConversationSummary, DeviceList, ErrorBody, ErrorCode, ErrorReason, Friend,
  FriendList, FriendRequestList, FriendRequestOutcome, LoginResponse, MemberList, MessagePage,
  Ok, ReadPosition, Role, SendMessageResponse, SyncResponse, UserProfile, UserSearchPage,
} from "../generated/protocol";
import { ENDPOINTS, type EndpointName } from "../generated/protocol";

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

/** The `{placeholders}` of a route's path, each a number or string. */
export type PathParams<P extends string> =
  P extends `${string}{${infer Name}}${infer Rest}` ? { [K in Name]: number | string } & PathParams<Rest> : unknown;

type Query = Record<string, string | number | boolean | undefined>;

interface CallArgs<N extends EndpointName> {
  path?: PathParams<(typeof ENDPOINTS)[N]["path"]>;
  query?: Query;
  body?: unknown;
}

/** A route's path with its placeholders filled in (escaped) and its query appended. */
export function routeUrl<N extends EndpointName>(name: N, path?: CallArgs<N>["path"], query?: Query): string {
  const values = (path ?? {}) as Record<string, number | string>;
  let url: string = ENDPOINTS[name].path.replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`${name}: no value for {${key}}`);
    return encodeURIComponent(String(value));
  });
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) search.set(key, String(value));
  const q = search.toString();
  if (q) url += `?${q}`;
  return url;
}

/**
 * Every HTTP call of the client, by the route names of `natter-protocol`
 * (ENDPOINTS is generated from the Rust declarations, so a renamed or moved
 * route fails the type check here rather than at run time).
 */
export class Api {
  token: string | null = null;
  /** `origin` prefixes every route (empty: the page's own server). */
  constructor(private readonly origin = "", private readonly fetcher: Fetcher = (...a) => fetch(...a)) {}

  private async call<T, N extends EndpointName = EndpointName>(name: N, args: CallArgs<N> = {}): Promise<T> {
    const endpoint = ENDPOINTS[name];
    const headers: Record<string, string> = {};
    if (endpoint.auth && this.token) headers["Authorization"] = `Bearer ${this.token}`;
    if (args.body !== undefined) headers["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await this.fetcher(this.origin + routeUrl(name, args.path, args.query), {
        method: endpoint.method,
        headers,
        body: args.body === undefined ? null : JSON.stringify(args.body),
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

  /** Every page of a paged list (friends, conversations, members, requests), merged. */
  private async allPages<T extends { next: string | null }, N extends EndpointName>(
    name: N, path: CallArgs<N>["path"], merge: (all: T, page: T) => void,
  ): Promise<T> {
    const all = await this.call<T, N>(name, { path });
    while (all.next) {
      const page = await this.call<T, N>(name, { path, query: { after: all.next } });
      merge(all, page);
      all.next = page.next;
    }
    return all;
  }

  register(username: string, password: string, display_name?: string) {
    return this.call<UserProfile>("REGISTER", { body: { username, password, display_name } });
  }
  login(username: string, password: string, device: string) {
    return this.call<LoginResponse>("LOGIN", { body: { username, password, device } });
  }
  logout() { return this.call<Ok>("LOGOUT"); }
  me() { return this.call<UserProfile>("GET_ME"); }
  updateMe(display_name: string) { return this.call<UserProfile>("UPDATE_ME", { body: { display_name } }); }
  changePassword(old_password: string, new_password: string) {
    return this.call<Ok>("CHANGE_PASSWORD", { body: { old_password, new_password } });
  }
  devices() { return this.call<DeviceList>("LIST_DEVICES"); }
  revokeDevice(id: number) { return this.call<Ok>("REVOKE_DEVICE", { path: { device_id: id } }); }
  searchUsers(q: string) { return this.call<UserSearchPage>("SEARCH_USERS", { query: { q, limit: 20 } }); }
  user(id: number) { return this.call<UserProfile>("GET_USER", { path: { user_id: id } }); }
  /** Every pending request, both ways, newest first, page after page. */
  friendRequests() {
    return this.allPages<FriendRequestList, "LIST_FRIEND_REQUESTS">("LIST_FRIEND_REQUESTS", undefined, (all, page) => {
      all.incoming.push(...page.incoming);
      all.outgoing.push(...page.outgoing);
    });
  }
  sendFriendRequest(user_id: number, greeting: string) {
    return this.call<FriendRequestOutcome>("SEND_FRIEND_REQUEST", { body: { user_id, greeting } });
  }
  acceptRequest(id: number) { return this.call<Friend>("ACCEPT_FRIEND_REQUEST", { path: { request_id: id } }); }
  declineRequest(id: number) { return this.call<Ok>("DECLINE_FRIEND_REQUEST", { path: { request_id: id } }); }
  cancelRequest(id: number) { return this.call<Ok>("CANCEL_FRIEND_REQUEST", { path: { request_id: id } }); }

  /** Every friend, page after page. */
  friends() {
    return this.allPages<FriendList, "LIST_FRIENDS">("LIST_FRIENDS", undefined, (all, page) => { all.friends.push(...page.friends); });
  }
  setRemark(user_id: number, remark: string | null) {
    return this.call<Ok>("UPDATE_FRIEND", { path: { user_id }, body: { remark } });
  }
  removeFriend(user_id: number) { return this.call<Ok>("REMOVE_FRIEND", { path: { user_id } }); }
  blocks() { return this.call<BlockList>("LIST_BLOCKS"); }
  block(user_id: number) { return this.call<Ok>("BLOCK_USER", { path: { user_id } }); }
  unblock(user_id: number) { return this.call<Ok>("UNBLOCK_USER", { path: { user_id } }); }
  /** Every conversation, newest activity first, page after page. */
  conversations() {
    return this.allPages<ConversationList, "LIST_CONVERSATIONS">("LIST_CONVERSATIONS", undefined, (all, page) => {
      all.conversations.push(...page.conversations);
    });
  }
  conversation(id: number) { return this.call<ConversationSummary>("GET_CONVERSATION", { path: { conversation_id: id } }); }
  history(id: number, q: { before?: number; after?: number; limit?: number }) {
    return this.call<MessagePage>("LIST_MESSAGES", {
      path: { conversation_id: id },
      query: { before: q.before, after: q.after, limit: q.limit ?? 50 },
    });
  }
  sendText(id: number, client_msg_id: string, text: string) {
    return this.call<SendMessageResponse>("SEND_MESSAGE", {
      path: { conversation_id: id },
      body: { client_msg_id, content: { kind: "text", text } },
    });
  }
  markRead(id: number, seq: number) {
    return this.call<ReadPosition>("MARK_READ", { path: { conversation_id: id }, body: { seq } });
  }
  /** Every member of a conversation, page after page. */
  members(id: number) {
    return this.allPages<MemberList, "LIST_MEMBERS">("LIST_MEMBERS", { conversation_id: id }, (all, page) => {
      all.members.push(...page.members);
    });
  }
  createGroup(name: string, members: number[]) {
    return this.call<ConversationSummary>("CREATE_GROUP", { body: { name, members } });
  }
  updateGroup(id: number, patch: { name?: string; announcement?: string }) {
    return this.call<Ok>("UPDATE_GROUP", { path: { conversation_id: id }, body: patch });
  }
  invite(id: number, user_ids: number[]) {
    return this.call<MemberList>("INVITE_MEMBERS", { path: { conversation_id: id }, body: { user_ids } });
  }
  removeMember(id: number, user_id: number) {
    return this.call<Ok>("REMOVE_MEMBER", { path: { conversation_id: id, user_id } });
  }
  setRole(id: number, user_id: number, role: Role) {
    return this.call<Ok>("SET_MEMBER_ROLE", { path: { conversation_id: id, user_id }, body: { role } });
  }
  transfer(id: number, user_id: number) {
    return this.call<Ok>("TRANSFER_OWNERSHIP", { path: { conversation_id: id }, body: { user_id } });
  }
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
    return this.call<SyncResponse>("SYNC", { query: { since, resume: resume || undefined } });
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
