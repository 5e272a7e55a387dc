import { describe, expect, it } from "vitest";
import type { ConversationSummary, Message } from "../generated/protocol";
import {
  classifyLive, contiguousTail, deliveryState, firstUnreadIndex, heldSeq, indexOfSeq, isPrepend, itemIndexOfSeq, matchesFilter,
  mergeMessages, newClientMsgId,
  settlePending, sortConversations, summaryWithMessage, summaryWithRead, timelineItems, upsertConversations, type PendingSend,
} from "./timeline";

const msg = (seq: number, sender = 2, cmid: string | null = `m${seq}`, conversation_id = 1): Message => ({
  conversation_id, seq, sender_id: sender, client_msg_id: cmid, sent_at: 1000 + seq,
  content: { kind: "text", text: `text ${seq}` }, reply_to: null, edited_at: null, recalled_at: null, expires_at: null,
});
const pend = (id: string, created_at = 1): PendingSend => ({ client_msg_id: id, conversation_id: 1, text: id, created_at });
const summary = (over: Partial<ConversationSummary> = {}): ConversationSummary => ({
  id: 1, kind: "direct", name: "bob", peer: null, announcement: null, member_count: 2, my_role: "member",
  last_seq: 0, read_seq: 0, unread: 0, last_message: null, created_at: 0, updated_at: 0, ...over,
});

describe("mergeMessages", () => {
  const check = (a: number[], b: number[], expected: number[]) =>
    expect(mergeMessages(a.map((s) => msg(s)), b.map((s) => msg(s))).map((m) => m.seq)).toEqual(expected);
  it("orders by seq whatever the arrival order", () => check([3, 1], [2], [1, 2, 3]));
  it("drops duplicates by seq", () => check([1, 2, 3], [2, 3, 4], [1, 2, 3, 4]));
  it("keeps the incoming copy of a duplicate", () => {
    const newer = { ...msg(2), edited_at: 5 };
    expect(mergeMessages([msg(1), msg(2)], [newer])[1]!.edited_at).toBe(5);
  });
  it("returns the same array when nothing comes in", () => {
    const a = [msg(1)];
    expect(mergeMessages(a, [])).toBe(a);
  });
});

describe("held and gaps", () => {
  it("held is the end of the contiguous run from the first message", () => {
    expect(heldSeq([])).toBe(0);
    expect(heldSeq([msg(1), msg(2), msg(3)])).toBe(3);
    expect(heldSeq([msg(4), msg(5), msg(7)])).toBe(5);
  });
  it("classifies live messages per PROTOCOL §8.6", () => {
    expect(classifyLive(5, 4)).toEqual({ kind: "duplicate" });
    expect(classifyLive(5, 5)).toEqual({ kind: "duplicate" });
    expect(classifyLive(5, 6)).toEqual({ kind: "append" });
    expect(classifyLive(5, 9)).toEqual({ kind: "gap", after: 5, before: 9 });
    expect(classifyLive(0, 1)).toEqual({ kind: "append" });
  });
  it("contiguousTail drops what lies before a hole", () => {
    expect(contiguousTail([msg(1), msg(2), msg(5), msg(6)]).map((m) => m.seq)).toEqual([5, 6]);
    expect(contiguousTail([msg(1), msg(2)]).map((m) => m.seq)).toEqual([1, 2]);
    expect(contiguousTail([])).toEqual([]);
  });
});

describe("optimistic sends", () => {
  it("a pending send shows after the held messages", () => {
    const items = timelineItems([msg(1), msg(2)], [pend("x")], 9);
    expect(items.map((i) => i.kind)).toEqual(["message", "message", "pending"]);
  });
  it("a confirmed send is never shown twice, and keeps its key", () => {
    const pendingKey = timelineItems([], [pend("abc")], 9)[0]!.key;
    const confirmed = msg(3, 9, "abc");
    const items = timelineItems([msg(1), msg(2), confirmed], [pend("abc")], 9);
    expect(items).toHaveLength(3);
    expect(items.filter((i) => i.key === pendingKey)).toHaveLength(1);
    expect(items[2]!.kind).toBe("message");
  });
  it("another user's message with the same client id does not confirm ours", () => {
    expect(settlePending([pend("abc")], [msg(3, 2, "abc")], 9)).toHaveLength(1);
    expect(settlePending([pend("abc")], [msg(3, 9, "abc")], 9)).toHaveLength(0);
  });
  it("pending sends keep the order they were written in", () => {
    const items = timelineItems([], [pend("b", 2), pend("a", 1)], 9);
    expect(items.map((i) => i.key)).toEqual(["c:a", "c:b"]);
  });
  it("client ids are 128 random bits in hex", () => {
    const a = newClientMsgId();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(newClientMsgId()).not.toBe(a);
  });
});

describe("summaries", () => {
  it("a message from someone else counts as unread", () => {
    const s = summaryWithMessage(summary({ last_seq: 2, read_seq: 2 }), msg(3), 9);
    expect([s.last_seq, s.read_seq, s.unread, s.last_message?.seq]).toEqual([3, 2, 1, 3]);
  });
  it("our own message moves our read position", () => {
    const s = summaryWithMessage(summary({ last_seq: 4, read_seq: 2, unread: 2 }), msg(5, 9), 9);
    expect([s.last_seq, s.read_seq, s.unread]).toEqual([5, 5, 0]);
  });
  it("an old message does not change the summary", () => {
    const base = summary({ last_seq: 5, read_seq: 5, last_message: msg(5) });
    expect(summaryWithMessage(base, msg(3), 9)).toBe(base);
  });
  it("read positions only move forward", () => {
    const base = summary({ last_seq: 5, read_seq: 3, unread: 2 });
    expect(summaryWithRead(base, 2)).toBe(base);
    expect(summaryWithRead(base, 5).unread).toBe(0);
  });
  it("the list is ordered by newest activity", () => {
    const list = sortConversations([summary({ id: 1, updated_at: 5 }), summary({ id: 2, updated_at: 9 }), summary({ id: 3, updated_at: 5 })]);
    expect(list.map((c) => c.id)).toEqual([2, 3, 1]);
  });
  it("a stale server summary does not roll back a newer live message", () => {
    const live = summary({ id: 1, last_seq: 6, read_seq: 4, last_message: msg(6), updated_at: 50 });
    const stale = summary({ id: 1, last_seq: 5, read_seq: 5, last_message: msg(5), updated_at: 40 });
    const [c] = upsertConversations([live], [stale]);
    expect([c!.last_seq, c!.read_seq, c!.unread, c!.updated_at]).toEqual([6, 5, 1, 50]);
  });
  it("filters by name, remark or username, ignoring case", () => {
    expect(matchesFilter("Bob", ["bobby"], "BOB")).toBe(true);
    expect(matchesFilter("读书会", [], "读书")).toBe(true);
    expect(matchesFilter("Alice", [null], "bob")).toBe(false);
    expect(matchesFilter("Alice", [], "  ")).toBe(true);
  });
});

describe("delivery and markers", () => {
  const member = (id: number, read_seq: number) => ({
    user: { id, username: `u${id}`, display_name: `u${id}`, created_at: 0 }, role: "member" as const, joined_at: 0, read_seq,
  });
  it("read when another member's position reached the message", () => {
    expect(deliveryState(3, [member(9, 3), member(2, 2)], 9)).toEqual({ state: "sent", readBy: 0 });
    expect(deliveryState(3, [member(9, 3), member(2, 3), member(4, 7)], 9)).toEqual({ state: "read", readBy: 2 });
  });
  it("the new-messages marker goes before the first unread message from someone else", () => {
    const items = timelineItems([msg(1), msg(2, 9), msg(3, 9), msg(4), msg(5)], [], 9);
    expect(firstUnreadIndex(items, 1, 9)).toBe(3);
    expect(firstUnreadIndex(items, 5, 9)).toBe(-1);
  });
});

describe("large timelines", () => {
  it("appends and prepends without re-sorting, and finds a seq by binary search", () => {
    const held = [3, 4, 5].map((s) => msg(s));
    expect(mergeMessages(held, [msg(6), msg(7)]).map((m) => m.seq)).toEqual([3, 4, 5, 6, 7]);
    expect(mergeMessages(held, [msg(1), msg(2)]).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(mergeMessages(held, [msg(7), msg(6)]).map((m) => m.seq)).toEqual([3, 4, 5, 6, 7]);
    expect(mergeMessages([], [msg(1)]).map((m) => m.seq)).toEqual([1]);
    expect(indexOfSeq(held, 4)).toBe(1);
    expect(indexOfSeq(held, 9)).toBe(-1);
    expect(indexOfSeq([], 1)).toBe(-1);
  });
  it("an item keeps its identity while its message does (memoized rows skip re-rendering)", () => {
    const m1 = msg(1);
    const a = timelineItems([m1, msg(2)], [], 9);
    const b = timelineItems([m1], [pend("x")], 9);
    expect(b[0]).toBe(a[0]);
    expect(timelineItems([{ ...m1 }], [], 9)[0]).not.toBe(a[0]);
  });
  it("finds the item of a seq with pending sends at the end", () => {
    const items = timelineItems([msg(2), msg(4), msg(5)], [pend("x")], 9);
    expect(itemIndexOfSeq(items, 4)).toBe(1);
    expect(itemIndexOfSeq(items, 3)).toBe(-1);
    expect(itemIndexOfSeq(timelineItems([], [pend("x")], 9), 1)).toBe(-1);
  });
  it("tells a prepended page from other changes", () => {
    const base = timelineItems([msg(3), msg(4)], [], 9);
    const older = timelineItems([msg(1), msg(2), msg(3), msg(4)], [], 9);
    expect(isPrepend(base, older)).toBe(true);
    expect(isPrepend(base, timelineItems([msg(1), msg(2), msg(3), msg(4), msg(5)], [], 9))).toBe(true);
    expect(isPrepend(base, timelineItems([msg(3), msg(4), msg(5)], [], 9))).toBe(false);
    expect(isPrepend(base, timelineItems([msg(7), msg(8), msg(9)], [], 9))).toBe(false);
    expect(isPrepend([], older)).toBe(false);
  });
});
