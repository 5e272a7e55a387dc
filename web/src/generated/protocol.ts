// Generated from crates/natter-protocol by `NATTER_UPDATE_TS=1 cargo test -p natter-protocol`.
// Do not edit by hand: a test fails when this file and the Rust types disagree.

export type UserId = number;

export type DeviceId = number;

export type Timestamp = number;

export type ConversationId = number;

export type FriendRequestId = number;

export type Seq = number;

export type SyncCursor = number;

export type ClientMsgId = string;

export type ErrorCode = "invalid_json" | "invalid_request" | "unknown_type" | "too_large" | "unauthorized" | "forbidden" | "not_found" | "no_route" | "invalid_username" | "username_taken" | "weak_password" | "invalid_credentials" | "rate_limited" | "not_friends" | "blocked" | "already_friends" | "request_not_pending" | "group_full" | "already_member" | "owner_must_transfer" | "unsupported_kind" | "too_far_behind" | "server_busy" | "auth_required" | "unavailable" | "internal" | "request_timeout" | "too_many_groups";

export type ErrorReason = "too_short" | "too_long" | "common_password" | "personal_information" | "predictable";

export type ErrorBody = { code: ErrorCode, 
/**
 * A human-readable sentence in English. Clients translate by `code`.
 */
message: string, 
/**
 * For `rate_limited`: how long to wait before retrying.
 */
retry_after_ms?: number, 
/**
 * For `weak_password`: which rule the password broke.
 */
reason?: ErrorReason, };

export type RegisterRequest = { username: string, password: string, display_name?: string, };

export type LoginRequest = { username: string, password: string, 
/**
 * A name for this device, shown in the device list ("Firefox on Linux").
 */
device?: string, };

export type LoginResponse = { 
/**
 * The session token: send it as `Authorization: Bearer <token>` and in the
 * WebSocket `auth` frame. The server stores only its hash.
 */
token: string, device_id: DeviceId, user: UserProfile, };

export type UserProfile = { id: UserId, username: string, 
/**
 * Defaults to the username when the user set none.
 */
display_name: string, created_at: Timestamp, };

export type UpdateProfileRequest = { 
/**
 * The new display name; an empty string resets it to the username.
 */
display_name: string, };

export type ChangePasswordRequest = { old_password: string, new_password: string, };

export type Device = { id: DeviceId, name: string, created_at: Timestamp, last_seen_at: Timestamp, 
/**
 * Whether this is the device making the request.
 */
current: boolean, };

export type DeviceList = { devices: Array<Device>, };

export type Ok = { ok: boolean, };

export type SearchUsersQuery = { q: string, limit?: number, 
/**
 * Where the previous page ended (its `next_offset`).
 */
offset?: number, };

export type UserSearchPage = { users: Array<UserProfile>, 
/**
 * Present when there may be more results.
 */
next_offset: number | null, };

export type FriendRequestStatus = "pending" | "accepted" | "declined" | "cancelled";

export type FriendRequest = { id: FriendRequestId, from: UserProfile, to: UserProfile, greeting: string, status: FriendRequestStatus, created_at: Timestamp, updated_at: Timestamp, };

export type SendFriendRequest = { user_id: UserId, greeting?: string, };

export type FriendRequestOutcome = { "outcome": "pending", request: FriendRequest, } | { "outcome": "friends", friend: Friend, };

export type FriendRequestList = { incoming: Array<FriendRequest>, outgoing: Array<FriendRequest>, 
/**
 * Present when there are more pending requests (either way, newest
 * first): pass it as `after` for the next page.
 */
next: string | null, };

export type Friend = { user: UserProfile, 
/**
 * The caller's private alias for this friend.
 */
remark: string | null, since: Timestamp, online: boolean, 
/**
 * When the friend was last connected; `null` if never or hidden.
 */
last_seen_at: Timestamp | null, 
/**
 * The direct conversation with this friend.
 */
conversation_id: ConversationId, };

export type FriendList = { friends: Array<Friend>, 
/**
 * Present when there are more: pass it as `after` for the next page.
 */
next: string | null, };

export type UpdateFriendRequest = { 
/**
 * The new remark; `null` or an empty string clears it.
 */
remark: string | null, };

export type BlockList = { users: Array<UserProfile>, };

export type ConversationKind = "direct" | "group";

export type Role = "member" | "admin" | "owner";

export type ConversationSummary = { id: ConversationId, kind: ConversationKind, 
/**
 * The group's name; for a direct conversation, the peer's display name.
 */
name: string, 
/**
 * For a direct conversation: the other person.
 */
peer: UserProfile | null, announcement: string | null, member_count: number, 
/**
 * The caller's role (`member` in direct conversations). Summaries are only
 * given to members, so this is set; it is optional to leave room for
 * showing conversations one has left.
 */
my_role: Role | null, 
/**
 * The newest message's seq (0 when empty).
 */
last_seq: Seq, 
/**
 * How far the caller has read.
 */
read_seq: Seq, 
/**
 * `last_seq − read_seq`: messages after the caller's read position, system
 * messages included. Sending a message moves the sender's read position to it.
 */
unread: number, last_message: Message | null, created_at: Timestamp, 
/**
 * Time of the newest activity, for ordering the list.
 */
updated_at: Timestamp, };

export type ConversationList = { conversations: Array<ConversationSummary>, 
/**
 * Present when there are more: pass it as `after` for the next page.
 */
next: string | null, };

export type OpenDirectRequest = { user_id: UserId, };

export type Message = { conversation_id: ConversationId, seq: Seq, sender_id: UserId, 
/**
 * The sender's idempotency key (absent on system messages).
 */
client_msg_id: ClientMsgId | null, 
/**
 * When the server stored it.
 */
sent_at: Timestamp, content: MessageContent, 
/**
 * The seq of the message this one replies to.
 */
reply_to: Seq | null, 
/**
 * Set when the message was edited (edits arrive in a later version).
 */
edited_at: Timestamp | null, 
/**
 * Set when the sender recalled the message; the content is then empty.
 */
recalled_at: Timestamp | null, 
/**
 * Burn-after-reading / disappearing messages: when it stops being shown.
 */
expires_at: Timestamp | null, };

export type MessageContent = { "kind": "text", text: string, } | { "kind": "image", media: MediaRef, } | { "kind": "voice", media: MediaRef, } | { "kind": "video", media: MediaRef, } | { "kind": "file", media: MediaRef, } | { "kind": "sticker", pack: string, sticker: string, } | { "kind": "system", event: SystemEvent, } | { "kind": "encrypted", mls: string, };

export type MediaRef = { media_id: string, mime: string, size: number, name?: string, width?: number, height?: number, duration_ms?: number, };

export type SystemEvent = { "type": "group_created", by: UserId, name: string, } | { "type": "members_added", by: UserId, users: Array<UserId>, } | { "type": "member_removed", by: UserId, user: UserId, } | { "type": "member_left", user: UserId, } | { "type": "renamed", by: UserId, name: string, } | { "type": "announcement_set", by: UserId, text: string, } | { "type": "role_changed", by: UserId, user: UserId, role: Role, } | { "type": "ownership_transferred", from: UserId, to: UserId, };

export type SendMessageRequest = { client_msg_id: ClientMsgId, content: MessageContent, reply_to?: Seq, };

export type SendMessageResponse = { message: Message, };

export type HistoryQuery = { before?: Seq, after?: Seq, 
/**
 * 1 to 100; default 50.
 */
limit?: number, };

export type MessagePage = { messages: Array<Message>, 
/**
 * Whether more messages exist beyond this page in the requested direction.
 */
has_more: boolean, };

export type MarkReadRequest = { seq: Seq, };

export type ReadPosition = { conversation_id: ConversationId, read_seq: Seq, unread: number, };

export type Member = { user: UserProfile, role: Role, joined_at: Timestamp, 
/**
 * How far this member has read: "read by" comes from here.
 */
read_seq: Seq, };

export type MemberList = { members: Array<Member>, 
/**
 * Present when there are more: pass it as `after` for the next page.
 */
next: string | null, };

export type CreateGroupRequest = { name: string, 
/**
 * Friends of the creator to add at once.
 */
members: Array<UserId>, };

export type UpdateGroupRequest = { name?: string, announcement?: string, };

export type InviteRequest = { user_ids: Array<UserId>, };

export type SetRoleRequest = { role: Role, };

export type TransferRequest = { user_id: UserId, };

export type SyncQuery = { 
/**
 * The `cursor` of the previous sync; `0` (or absent) for a first sync.
 */
since: SyncCursor, 
/**
 * `true` when `since` is the `cursor` of a page that said `has_more`:
 * the server goes on from it and never answers this page with a reset
 * (the first page already said whether it was one).
 */
resume?: boolean, };

export type SyncResponse = { cursor: SyncCursor, reset: boolean, 
/**
 * Older servers never page: absent means `false`.
 */
has_more: boolean, events: Array<UserEvent>, conversations: Array<ConversationSummary>, };

export type UserEvent = { cursor: SyncCursor, at: Timestamp, change: UserChange, };

export type UserChange = { "type": "friend_request_received", request: FriendRequest, } | { "type": "friend_request_updated", request: FriendRequest, } | { "type": "friend_added", friend: Friend, } | { "type": "friend_removed", user_id: UserId, } | { "type": "friend_updated", user_id: UserId, remark: string | null, } | { "type": "block_changed", user_id: UserId, blocked: boolean, } | { "type": "conversation_joined", conversation_id: ConversationId, } | { "type": "conversation_left", conversation_id: ConversationId, removed_by: UserId | null, } | { "type": "read_position", conversation_id: ConversationId, read_seq: Seq, } | { "type": "profile_updated", display_name: string, };

export type ClientFrame = { 
/**
 * Chosen by the client; the reply carries it back. A frame without an id
 * gets no reply when it succeeds; errors are always reported (with the id
 * when the frame had one).
 */
id?: number, } & ({ "type": "auth", token: string, } | { "type": "ping" } | { "type": "send", conversation_id: ConversationId, client_msg_id: ClientMsgId, content: MessageContent, reply_to?: Seq, } | { "type": "read", conversation_id: ConversationId, seq: Seq, } | { "type": "typing", conversation_id: ConversationId, } | { "type": "sync", since: SyncCursor, 
/**
 * Going on from a page that said `has_more` (see [`crate::sync::SyncQuery`]).
 */
resume?: boolean, } | { "type": "history", conversation_id: ConversationId, before?: Seq, after?: Seq, 
/**
 * 1 to 100; default 50.
 */
limit?: number, });

export type ClientRequest = { "type": "auth", token: string, } | { "type": "ping" } | { "type": "send", conversation_id: ConversationId, client_msg_id: ClientMsgId, content: MessageContent, reply_to?: Seq, } | { "type": "read", conversation_id: ConversationId, seq: Seq, } | { "type": "typing", conversation_id: ConversationId, } | { "type": "sync", since: SyncCursor, 
/**
 * Going on from a page that said `has_more` (see [`crate::sync::SyncQuery`]).
 */
resume?: boolean, } | { "type": "history", conversation_id: ConversationId, before?: Seq, after?: Seq, 
/**
 * 1 to 100; default 50.
 */
limit?: number, };

export type ServerFrame = { "type": "auth_ok", id?: number, user: UserProfile, device_id: DeviceId, protocol: number, server_time: Timestamp, } | { "type": "reply", id: number, result: unknown, } | { "type": "error", id?: number, code: ErrorCode, message: string, retry_after_ms?: number, reason?: ErrorReason, } | { "type": "pong", id?: number, } | { "type": "event", event: Event, };

export type Event = { "type": "message", message: Message, } | { "type": "user", event: UserEvent, } | { "type": "read", conversation_id: ConversationId, user_id: UserId, read_seq: Seq, } | { "type": "typing", conversation_id: ConversationId, user_id: UserId, } | { "type": "profile", user: UserProfile, } | { "type": "presence", user_id: UserId, online: boolean, last_seen_at: Timestamp | null, };

export const PROTOCOL_VERSION = 1;

/** Every HTTP route, as `natter-protocol` declares it. */
export const ENDPOINTS = {
  REGISTER: { method: "POST", path: "/api/v1/auth/register", auth: false },
  LOGIN: { method: "POST", path: "/api/v1/auth/login", auth: false },
  LOGOUT: { method: "POST", path: "/api/v1/auth/logout", auth: true },
  GET_ME: { method: "GET", path: "/api/v1/me", auth: true },
  UPDATE_ME: { method: "PATCH", path: "/api/v1/me", auth: true },
  CHANGE_PASSWORD: { method: "POST", path: "/api/v1/me/password", auth: true },
  LIST_DEVICES: { method: "GET", path: "/api/v1/devices", auth: true },
  REVOKE_DEVICE: { method: "DELETE", path: "/api/v1/devices/{device_id}", auth: true },
  GET_USER: { method: "GET", path: "/api/v1/users/{user_id}", auth: true },
  SEARCH_USERS: { method: "GET", path: "/api/v1/users", auth: true },
  LIST_FRIENDS: { method: "GET", path: "/api/v1/friends", auth: true },
  UPDATE_FRIEND: { method: "PATCH", path: "/api/v1/friends/{user_id}", auth: true },
  REMOVE_FRIEND: { method: "DELETE", path: "/api/v1/friends/{user_id}", auth: true },
  LIST_FRIEND_REQUESTS: { method: "GET", path: "/api/v1/friend-requests", auth: true },
  SEND_FRIEND_REQUEST: { method: "POST", path: "/api/v1/friend-requests", auth: true },
  ACCEPT_FRIEND_REQUEST: { method: "POST", path: "/api/v1/friend-requests/{request_id}/accept", auth: true },
  DECLINE_FRIEND_REQUEST: { method: "POST", path: "/api/v1/friend-requests/{request_id}/decline", auth: true },
  CANCEL_FRIEND_REQUEST: { method: "DELETE", path: "/api/v1/friend-requests/{request_id}", auth: true },
  LIST_BLOCKS: { method: "GET", path: "/api/v1/blocks", auth: true },
  BLOCK_USER: { method: "PUT", path: "/api/v1/blocks/{user_id}", auth: true },
  UNBLOCK_USER: { method: "DELETE", path: "/api/v1/blocks/{user_id}", auth: true },
  LIST_CONVERSATIONS: { method: "GET", path: "/api/v1/conversations", auth: true },
  GET_CONVERSATION: { method: "GET", path: "/api/v1/conversations/{conversation_id}", auth: true },
  OPEN_DIRECT: { method: "POST", path: "/api/v1/conversations/direct", auth: true },
  LIST_MESSAGES: { method: "GET", path: "/api/v1/conversations/{conversation_id}/messages", auth: true },
  SEND_MESSAGE: { method: "POST", path: "/api/v1/conversations/{conversation_id}/messages", auth: true },
  MARK_READ: { method: "POST", path: "/api/v1/conversations/{conversation_id}/read", auth: true },
  LIST_MEMBERS: { method: "GET", path: "/api/v1/conversations/{conversation_id}/members", auth: true },
  CREATE_GROUP: { method: "POST", path: "/api/v1/groups", auth: true },
  UPDATE_GROUP: { method: "PATCH", path: "/api/v1/groups/{conversation_id}", auth: true },
  INVITE_MEMBERS: { method: "POST", path: "/api/v1/groups/{conversation_id}/members", auth: true },
  REMOVE_MEMBER: { method: "DELETE", path: "/api/v1/groups/{conversation_id}/members/{user_id}", auth: true },
  SET_MEMBER_ROLE: { method: "PUT", path: "/api/v1/groups/{conversation_id}/members/{user_id}/role", auth: true },
  TRANSFER_OWNERSHIP: { method: "POST", path: "/api/v1/groups/{conversation_id}/transfer", auth: true },
  SYNC: { method: "GET", path: "/api/v1/sync", auth: true },
} as const;

export type EndpointName = keyof typeof ENDPOINTS;
