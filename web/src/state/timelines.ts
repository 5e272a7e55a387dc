// The timelines: per conversation, the messages held (from the cache, then the
// server) and how they are completed. §8.6 of docs/PROTOCOL.md decides the
// rules: fill gaps by seq, let overtaken live messages arrive before asking
// history for them. The pure rules are in timeline.ts.
import { batch, signal, type Signal } from "@preact/signals";
import type { Message } from "../generated/protocol";
import { ApiError } from "../net/api";
import type { Conversations } from "./conversations";
import type { Outbox } from "./outbox";
import type { Session } from "./session";
import { classifyLive, contiguousTail, heldSeq, mergeMessages } from "./timeline";

export interface TimelineState {
  messages: Message[];
  /** The newest page (or the cached one) has been loaded at least once. */
  loaded: boolean;
  hasOlder: boolean;
  loadingOlder: boolean;
}

const EMPTY_TIMELINE: TimelineState = { messages: [], loaded: false, hasOlder: false, loadingOlder: false };
const PAGE = 50;
/** Older history comes in bigger pages: scrolling back is a read of many, and the timeline is virtualized. */
const OLDER_PAGE = 100;
/** Past this many missing messages, a timeline restarts from the newest page instead of filling. */
const MAX_FILL_PAGES = 5;

export class Timelines {
  /** How long a live message that overtook others waits for them (§8.6). */
  reorderWindowMs = 500;
  private readonly timelines = new Map<number, Signal<TimelineState>>();
  private readonly pendingFills = new Map<number, ReturnType<typeof setTimeout>>();
  private readonly fills = new Map<number, Promise<void>>();

  constructor(
    private readonly session: Session,
    private readonly conversations: Conversations,
    private readonly outbox: Outbox,
  ) {}

  timeline(id: number): Signal<TimelineState> {
    let s = this.timelines.get(id);
    if (!s) { s = signal(EMPTY_TIMELINE); this.timelines.set(id, s); }
    return s;
  }

  /** The highest seq held without a hole: what reading to the bottom has read. */
  heldSeq(id: number): number { return heldSeq(this.timeline(id).value.messages); }

  /** Forgets a conversation's timeline, here and in the cache. */
  forget(id: number): void {
    this.timelines.delete(id);
    void this.session.cache.deleteConversation(id);
  }

  /** Forgets every timeline not in `keep` (a reset sync). */
  retain(keep: ReadonlySet<number>): void {
    for (const id of [...this.timelines.keys()]) if (!keep.has(id)) this.forget(id);
  }

  reset(): void {
    for (const timer of this.pendingFills.values()) clearTimeout(timer);
    this.pendingFills.clear();
    this.timelines.clear();
    this.fills.clear();
  }

  /** Brings a timeline up to `lastSeq`: from the cache, then forward from the server. */
  async catchUp(id: number, lastSeq: number): Promise<void> {
    await this.ensureLoaded(id);
    const held = this.heldSeq(id);
    if (lastSeq > held) await this.fill(id, held, lastSeq + 1);
  }

  /** Loads the newest page of a timeline once: from the cache if it has it, else from the server. */
  async ensureLoaded(id: number): Promise<void> {
    const tl = this.timeline(id);
    if (tl.value.loaded) return;
    const cached = contiguousTail(await this.session.cache.messages(id, PAGE));
    if (tl.value.loaded) return;
    if (cached.length > 0) {
      this.patch(id, { messages: mergeMessages(cached, tl.value.messages), loaded: true, hasOlder: cached[0]!.seq > 1 });
      return;
    }
    try {
      const page = await this.session.api.history(id, { limit: PAGE });
      await this.session.cache.putMessages(page.messages);
      this.patch(id, { messages: mergeMessages(tl.value.messages, page.messages), loaded: true, hasOlder: page.has_more });
      this.outbox.settle(page.messages);
    } catch (e) {
      if (e instanceof ApiError && e.code === "network") return;
      throw e;
    }
  }

  /** Fetches the messages with after < seq < before; one fill per conversation at a time. */
  fill(id: number, after: number, before?: number): Promise<void> {
    const prev = this.fills.get(id) ?? Promise.resolve();
    const next = prev.then(() => this.doFill(id, after, before), () => this.doFill(id, after, before));
    this.fills.set(id, next);
    return next.finally(() => { if (this.fills.get(id) === next) this.fills.delete(id); });
  }

  private async doFill(id: number, after: number, before?: number): Promise<void> {
    // Another fill may have got there first.
    after = Math.max(after, this.heldSeq(id));
    if (before !== undefined && after >= before - 1) return;
    for (let pages = 0; ; pages++) {
      if (pages >= MAX_FILL_PAGES) {
        // Too far behind: restart from the newest page; older ones load on scroll.
        const page = await this.session.api.history(id, { limit: PAGE });
        await this.session.cache.putMessages(page.messages);
        this.patch(id, { messages: page.messages, loaded: true, hasOlder: page.has_more });
        this.outbox.settle(page.messages);
        return;
      }
      const q: { after: number; before?: number; limit: number } = { after, limit: 100 };
      if (before !== undefined) q.before = before;
      const page = await this.session.api.history(id, q);
      this.addMessages(id, page.messages);
      const last = page.messages[page.messages.length - 1];
      if (!page.has_more || !last) return;
      after = last.seq;
    }
  }

  /** Older messages for scrolling up: from the cache when it has them contiguously, else the server. */
  async loadOlder(id: number): Promise<void> {
    const tl = this.timeline(id);
    const cur = tl.value;
    if (!cur.loaded || !cur.hasOlder || cur.loadingOlder) return;
    const first = cur.messages[0];
    if (!first) return;
    this.patch(id, { loadingOlder: true });
    try {
      let older = await this.session.cache.messages(id, OLDER_PAGE, first.seq);
      const lastCached = older[older.length - 1];
      if (!lastCached || lastCached.seq !== first.seq - 1) older = [];
      else older = contiguousTail(older);
      let hasOlder: boolean;
      if (older.length > 0) {
        hasOlder = older[0]!.seq > 1;
      } else {
        const page = await this.session.api.history(id, { before: first.seq, limit: OLDER_PAGE });
        await this.session.cache.putMessages(page.messages);
        older = page.messages;
        hasOlder = page.has_more;
      }
      this.patch(id, { messages: mergeMessages(tl.value.messages, older), hasOlder, loadingOlder: false });
    } catch {
      this.patch(id, { loadingOlder: false });
    }
  }

  /**
   * A live message (§8.6). Null when it is held already; otherwise it is added at
   * once and the promise completes what it showed missing: the newest page of a
   * timeline not loaded yet, or the messages it overtook once the reorder window
   * has passed without them.
   */
  receive(m: Message): Promise<void> | null {
    const id = m.conversation_id;
    const tl = this.timeline(id);
    const outcome = tl.value.loaded ? classifyLive(heldSeq(tl.value.messages), m.seq) : null;
    if (outcome?.kind === "duplicate") return null;
    this.addMessages(id, [m]);
    if (!tl.value.loaded) return this.catchUp(id, m.seq);
    if (outcome?.kind === "gap") {
      if (this.reorderWindowMs <= 0) return this.fill(id, outcome.after, outcome.before);
      this.fillLater(id);
    }
    return Promise.resolve();
  }

  /** The stored message a send's reply carries; if others came in below it unseen, they are fetched. */
  addSent(m: Message): void {
    const id = m.conversation_id;
    const tl = this.timeline(id);
    const held = heldSeq(tl.value.messages);
    this.addMessages(id, [m]);
    if (tl.value.loaded && m.seq > held + 1) void this.fill(id, held, m.seq);
  }

  /** Adds messages to a timeline, the cache and the conversation summary. */
  addMessages(id: number, msgs: readonly Message[]): void {
    if (msgs.length === 0) return;
    void this.session.cache.putMessages(msgs);
    const tl = this.timeline(id);
    // One batch: a confirmed send leaves the outbox in the render that shows it stored.
    batch(() => {
      this.patch(id, { messages: mergeMessages(tl.value.messages, msgs) });
      this.conversations.noteMessages(id, msgs);
      this.outbox.settle(msgs);
    });
    this.session.persistSoon();
  }

  /** After the reorder window, fetches what is still missing below the newest
   * message of a timeline (nothing, when the overtaken messages came live). */
  private fillLater(id: number): void {
    if (this.pendingFills.has(id)) return;
    this.pendingFills.set(id, setTimeout(() => {
      this.pendingFills.delete(id);
      if (this.session.stopped) return;
      const msgs = this.timeline(id).value.messages;
      const held = heldSeq(msgs);
      const newest = msgs.length > 0 ? msgs[msgs.length - 1]!.seq : held;
      if (newest > held + 1) void this.fill(id, held, newest);
    }, this.reorderWindowMs));
  }

  private patch(id: number, patch: Partial<TimelineState>): void {
    const s = this.timeline(id);
    s.value = { ...s.value, ...patch };
  }
}
