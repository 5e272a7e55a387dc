// Pure timeline logic: ordering, dedupe, gap detection, optimistic sends, unread counts.
// No I/O and no signals here, so every rule is unit-tested in isolation.
import type { ConversationSummary, ErrorCode, Member, Message } from "../generated/protocol";

/** A message the user sent that the server has not acknowledged yet. */
export interface PendingSend {
  client_msg_id: string;
  conversation_id: number;
  text: string;
  created_at: number;
  /** Set when the server refused it for good (not retried any more). */
  error?: ErrorCode | null;
}

/**
 * Merges two ascending runs of messages into one ascending, duplicate-free run.
 * For a seq present in both, the incoming copy wins (it may carry newer fields).
 * Appending after the newest or prepending before the oldest (the usual cases:
 * a live message, an older page) costs one copy, not a sort of everything held.
 */
export function mergeMessages(current: readonly Message[], incoming: readonly Message[]): Message[] {
  if (incoming.length === 0) return current as Message[];
  if (isAscending(incoming) && isAscending(current)) {
    if (current.length === 0) return incoming.slice();
    const first = current[0]!;
    const last = current[current.length - 1]!;
    if (incoming[0]!.seq > last.seq) return current.concat(incoming);
    if (incoming[incoming.length - 1]!.seq < first.seq) return incoming.concat(current);
  }
  const bySeq = new Map<number, Message>();
  for (const m of current) bySeq.set(m.seq, m);
  for (const m of incoming) bySeq.set(m.seq, m);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

function isAscending(msgs: readonly Message[]): boolean {
  for (let i = 1; i < msgs.length; i++) if (msgs[i]!.seq <= msgs[i - 1]!.seq) return false;
  return true;
}

/** Index of the message of `seq` in an ascending run, or -1 (binary search). */
export function indexOfSeq(messages: readonly Message[], seq: number): number {
  let lo = 0;
  let hi = messages.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = messages[mid]!.seq;
    if (s === seq) return mid;
    if (s < seq) lo = mid + 1; else hi = mid - 1;
  }
  return -1;
}

/** The highest seq held without a hole, starting from the first message held (0 when empty). */
export function heldSeq(messages: readonly Message[]): number {
  if (messages.length === 0) return 0;
  let held = messages[0]!.seq;
  for (let i = 1; i < messages.length; i++) {
    const s = messages[i]!.seq;
    if (s !== held + 1) break;
    held = s;
  }
  return held;
}

/** Keeps only the contiguous run that ends at the newest message (drops anything before a hole). */
export function contiguousTail(messages: readonly Message[]): Message[] {
  let start = messages.length - 1;
  while (start > 0 && messages[start - 1]!.seq === messages[start]!.seq - 1) start--;
  return start <= 0 ? (messages as Message[]) : messages.slice(start);
}

export type LiveOutcome =
  | { kind: "duplicate" }
  | { kind: "append" }
  /** Fetch history with `after` and `before` (exclusive), then apply. */
  | { kind: "gap"; after: number; before: number };

/** What to do with a live message of seq `seq` when every message up to `held` is held. */
export function classifyLive(held: number, seq: number): LiveOutcome {
  if (seq <= held) return { kind: "duplicate" };
  if (seq === held + 1) return { kind: "append" };
  return { kind: "gap", after: held, before: seq };
}

/** Removes the pending sends that the server confirmed (their own message is held). */
export function settlePending(pending: readonly PendingSend[], messages: readonly Message[], myId: number): PendingSend[] {
  if (pending.length === 0) return pending as PendingSend[];
  const confirmed = new Set<string>();
  for (const m of messages) if (m.sender_id === myId && m.client_msg_id) confirmed.add(m.client_msg_id);
  const left = pending.filter((p) => !confirmed.has(p.client_msg_id));
  return left.length === pending.length ? (pending as PendingSend[]) : left;
}

export type TimelineItem =
  | { kind: "message"; key: string; message: Message }
  | { kind: "pending"; key: string; pending: PendingSend };

// Item objects are remembered per message (and per pending send), so an item
// keeps its identity while its message does: memoized rows then skip re-rendering.
const messageItems = new WeakMap<Message, TimelineItem>();
const pendingItems = new WeakMap<PendingSend, TimelineItem>();

function messageItem(m: Message, myId: number): TimelineItem {
  // Own messages keep the key of their pending bubble so confirmation does not re-create the node.
  const key = m.sender_id === myId && m.client_msg_id ? `c:${m.client_msg_id}` : `s:${m.seq}`;
  const found = messageItems.get(m);
  if (found && found.key === key) return found;
  const item: TimelineItem = { kind: "message", key, message: m };
  messageItems.set(m, item);
  return item;
}

function pendingItem(p: PendingSend): TimelineItem {
  let item = pendingItems.get(p);
  if (!item) { item = { kind: "pending", key: `c:${p.client_msg_id}`, pending: p }; pendingItems.set(p, item); }
  return item;
}

/** What the chat shows: held messages by seq, then the pending sends not confirmed yet. */
export function timelineItems(messages: readonly Message[], pending: readonly PendingSend[], myId: number): TimelineItem[] {
  const items: TimelineItem[] = new Array(messages.length);
  for (let i = 0; i < messages.length; i++) items[i] = messageItem(messages[i]!, myId);
  if (pending.length === 0) return items;
  const left = settlePending(pending, messages, myId);
  const sorted = [...left].sort((a, b) => a.created_at - b.created_at);
  for (const p of sorted) items.push(pendingItem(p));
  return items;
}

/** Index of the timeline item holding the message of `seq`, or -1 (items are by seq, pending last). */
export function itemIndexOfSeq(items: readonly TimelineItem[], seq: number): number {
  let lo = 0;
  let hi = items.length - 1;
  while (hi >= 0 && items[hi]!.kind === "pending") hi--;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const it = items[mid]!;
    const s = it.kind === "message" ? it.message.seq : Infinity;
    if (s === seq) return mid;
    if (s < seq) lo = mid + 1; else hi = mid - 1;
  }
  return -1;
}

/**
 * Whether `next` is `prev` with items added before its first one (an older page):
 * the case where a list keeps its scroll position from the end.
 */
export function isPrepend(prev: readonly TimelineItem[], next: readonly TimelineItem[]): boolean {
  if (prev.length === 0 || next.length <= prev.length) return false;
  const first = prev[0]!.key;
  if (next[0]!.key === first) return false;
  // Usually exactly where the added count puts it; a search covers a live message arriving at once.
  const at = next.length - prev.length;
  if (next[at]?.key === first) return true;
  return next.findIndex((it) => it.key === first) > 0;
}

/** A conversation summary updated for a message that arrived (live, by history or by our own send). */
export function summaryWithMessage(s: ConversationSummary, m: Message, myId: number): ConversationSummary {
  if (m.seq <= s.last_seq && !(m.sender_id === myId && m.seq > s.read_seq)) return s;
  const last_seq = Math.max(s.last_seq, m.seq);
  const newest = m.seq >= s.last_seq;
  // Sending moves the sender's read position to the message (server rule, silent).
  const read_seq = m.sender_id === myId ? Math.max(s.read_seq, m.seq) : s.read_seq;
  return {
    ...s,
    last_seq,
    read_seq,
    unread: Math.max(0, last_seq - read_seq),
    last_message: newest ? m : s.last_message,
    updated_at: newest ? Math.max(s.updated_at, m.sent_at) : s.updated_at,
  };
}

export function summaryWithRead(s: ConversationSummary, readSeq: number): ConversationSummary {
  if (readSeq <= s.read_seq) return s;
  const read_seq = Math.min(readSeq, Math.max(s.last_seq, readSeq));
  return { ...s, read_seq, unread: Math.max(0, s.last_seq - read_seq) };
}

/** Newest activity first; ties by id so the order is stable. */
export function sortConversations(list: readonly ConversationSummary[]): ConversationSummary[] {
  return [...list].sort((a, b) => b.updated_at - a.updated_at || b.id - a.id);
}

/** Replaces or inserts summaries by id, keeping the one with the newer activity. */
export function upsertConversations(list: readonly ConversationSummary[], incoming: readonly ConversationSummary[]): ConversationSummary[] {
  const byId = new Map(list.map((c) => [c.id, c]));
  for (const c of incoming) {
    const old = byId.get(c.id);
    // A summary from the server is authoritative unless ours already saw a newer message.
    if (old && old.last_seq > c.last_seq) byId.set(c.id, { ...c, last_seq: old.last_seq, last_message: old.last_message, updated_at: old.updated_at, unread: Math.max(0, old.last_seq - c.read_seq) });
    else byId.set(c.id, c);
  }
  return sortConversations([...byId.values()]);
}

export function matchesFilter(name: string, extra: readonly (string | null | undefined)[], filter: string): boolean {
  const f = filter.trim().toLocaleLowerCase();
  if (!f) return true;
  return [name, ...extra].some((s) => !!s && s.toLocaleLowerCase().includes(f));
}

export type DeliveryState = "pending" | "failed" | "sent" | "read";

/** Delivery state of one of our messages, from the other members' read positions. */
export function deliveryState(seq: number, members: readonly Member[], myId: number): { state: DeliveryState; readBy: number } {
  let readBy = 0;
  for (const mb of members) if (mb.user.id !== myId && mb.read_seq >= seq) readBy++;
  return { state: readBy > 0 ? "read" : "sent", readBy };
}

/** Index of the first message after `readSeq` sent by someone else (for the "new messages" marker), or -1. */
export function firstUnreadIndex(items: readonly TimelineItem[], readSeq: number, myId: number): number {
  return items.findIndex((it) => it.kind === "message" && it.message.seq > readSeq && it.message.sender_id !== myId);
}

/** A fresh client message id: 128 random bits in hex. */
export function newClientMsgId(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
