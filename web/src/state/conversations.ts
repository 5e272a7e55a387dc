// The conversation list: one summary per conversation (name, last message,
// unread count), newest activity first, and the read position this user set.
// Timelines and members follow it through two hooks the root wires, so this
// domain depends on the session only.
import { computed, signal } from "@preact/signals";
import type { ConversationSummary, Message, UserProfile } from "../generated/protocol";
import type { Session } from "./session";
import { sortConversations, summaryWithMessage, summaryWithRead, upsertConversations } from "./timeline";

export class Conversations {
  readonly list = signal<ConversationSummary[]>([]);
  /** The conversation on screen, if any: its members are refreshed after a catch-up. */
  readonly activeId = signal<number | null>(null);
  readonly unreadTotal = computed(() => this.list.value.reduce((n, c) => n + c.unread, 0));

  /** A conversation was added from a reply or an event: its timeline catches up. */
  onAdded: (s: ConversationSummary) => void = () => {};
  /** A conversation is gone (left, removed, or dropped by a reset sync): its timeline and members go too. */
  onForgotten: (id: number) => void = () => {};

  /** Conversations being fetched, so that a reply and an event ask once. */
  private readonly fetching = new Map<number, Promise<void>>();

  constructor(private readonly session: Session) {
    session.persist("conversations", () => this.list.value);
  }

  async restore(): Promise<() => void> {
    const cached = await this.session.cache.get<ConversationSummary[]>("conversations");
    return () => { if (cached) this.list.value = sortConversations(cached); };
  }

  reset(): void {
    this.list.value = [];
    this.activeId.value = null;
    this.fetching.clear();
  }

  find(id: number): ConversationSummary | undefined { return this.list.value.find((c) => c.id === id); }

  /** Merges summaries from the server in (the newer activity wins); nothing else follows. */
  upsert(summaries: readonly ConversationSummary[]): void {
    this.list.value = upsertConversations(this.list.value, summaries);
  }

  /** After a reset sync: the server's list is the whole list. */
  replaceAll(summaries: readonly ConversationSummary[]): void {
    const keep = new Set(summaries.map((c) => c.id));
    this.list.value = upsertConversations(this.list.value.filter((c) => keep.has(c.id)), summaries);
  }

  /** Fetches one summary and merges it in; null when the conversation is not ours (any more). */
  async fetch(id: number): Promise<ConversationSummary | null> {
    try {
      const s = await this.session.api.conversation(id);
      this.upsert([s]);
      return s;
    } catch {
      return null;
    }
  }

  /** Fetches a conversation the list does not hold yet (once, however many ask). */
  ensure(id: number): Promise<void> {
    if (this.find(id)) return Promise.resolve();
    let pending = this.fetching.get(id);
    if (!pending) {
      pending = this.session.api.conversation(id).then((s) => this.add(s), () => {})
        .finally(() => this.fetching.delete(id));
      this.fetching.set(id, pending);
    }
    return pending;
  }

  /** Adds a conversation summary we learned of from a reply (group created, direct opened). */
  add(s: ConversationSummary): void {
    this.upsert([s]);
    this.session.persistSoon();
    this.onAdded(s);
  }

  patch(id: number, patch: Partial<ConversationSummary>): void {
    this.list.value = this.list.value.map((c) => (c.id === id ? { ...c, ...patch } : c));
    this.session.persistSoon();
  }

  /** A role or membership changed: the summary's role and member count, from the server. */
  refreshMembership(id: number): void {
    void this.session.api.conversation(id)
      .then((s) => this.patch(id, { my_role: s.my_role, member_count: s.member_count }), () => {});
  }

  forget(id: number): void {
    this.list.value = this.list.value.filter((c) => c.id !== id);
    this.onForgotten(id);
    if (this.activeId.value === id) this.activeId.value = null;
    this.session.persistSoon();
  }

  /** Messages arrived (live, by history or by our own send): the summary's last message and unread count. */
  noteMessages(id: number, msgs: readonly Message[]): void {
    const myId = this.session.myId;
    this.list.value = sortConversations(this.list.value.map((c) => {
      if (c.id !== id) return c;
      let s = c;
      for (const m of msgs) s = summaryWithMessage(s, m, myId);
      return s;
    }));
  }

  /** Another device of this user read up to `readSeq`. */
  noteRead(id: number, readSeq: number): void {
    this.list.value = this.list.value.map((c) => (c.id === id ? summaryWithRead(c, readSeq) : c));
  }

  /** A friend's new display name, in the direct conversation's title. */
  notePeer(user: UserProfile): void {
    this.list.value = this.list.value.map((c) =>
      c.peer?.id === user.id ? { ...c, peer: user, name: user.display_name } : c);
  }

  /** Marks everything up to `seq` (what the timeline holds) as read, here and on the server. */
  markRead(id: number, seq: number): void {
    const c = this.find(id);
    if (!c || seq <= c.read_seq) return;
    this.noteRead(id, seq);
    this.session.persistSoon();
    const t = this.session.transport;
    // The socket is cheaper while it is up; HTTP still gets the read through while it is not.
    if (t?.isOnline) t.request({ type: "read", conversation_id: id, seq }).catch(() => {});
    else this.session.api.markRead(id, seq).catch(() => {});
  }
}
