// Typing indicators: who is typing where (each expires unless renewed), and
// telling the others when this user types.
import { signal } from "@preact/signals";
import type { Session } from "./session";

/** How long an indicator lasts after the last typing event; senders repeat it more often. */
const TYPING_MS = 6000;
/** This user's typing is sent at most this often per conversation. */
const SEND_EVERY_MS = 3000;

export class Typing {
  /** conversation id → user id → time the indicator expires. */
  readonly until = signal<Record<number, Record<number, number>>>({});
  private pruneTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly lastSent = new Map<number, number>();

  constructor(private readonly session: Session) {}

  /** The users typing in a conversation now. */
  typers(conversationId: number, now = Date.now()): number[] {
    return Object.entries(this.until.value[conversationId] ?? {})
      .filter(([, until]) => until > now).map(([uid]) => Number(uid));
  }

  onTyping(id: number, userId: number): void {
    const cur = this.until.value;
    this.until.value = { ...cur, [id]: { ...(cur[id] ?? {}), [userId]: Date.now() + TYPING_MS } };
    this.schedulePrune();
  }

  /** Their message arrived: they stopped typing it. */
  clear(id: number, userId: number): void {
    const conv = this.until.value[id];
    if (!conv || !(userId in conv)) return;
    const { [userId]: _gone, ...rest } = conv;
    this.until.value = { ...this.until.value, [id]: rest };
  }

  /** Tells the others we are typing, at most every 3 seconds. */
  typingNow(conversationId: number): void {
    const now = Date.now();
    if (now - (this.lastSent.get(conversationId) ?? 0) < SEND_EVERY_MS) return;
    this.lastSent.set(conversationId, now);
    this.session.transport?.notify({ type: "typing", conversation_id: conversationId });
  }

  /** We sent a message: the next keystroke is news again, so it is told at once. */
  sent(conversationId: number): void { this.lastSent.delete(conversationId); }

  reset(): void {
    if (this.pruneTimer) clearTimeout(this.pruneTimer);
    this.pruneTimer = null;
    this.lastSent.clear();
    this.until.value = {};
  }

  private schedulePrune(): void {
    if (this.pruneTimer) return;
    this.pruneTimer = setTimeout(() => {
      this.pruneTimer = null;
      const now = Date.now();
      const next: Record<number, Record<number, number>> = {};
      let left = false;
      for (const [cid, users] of Object.entries(this.until.value)) {
        const keep = Object.fromEntries(Object.entries(users).filter(([, t]) => t > now));
        if (Object.keys(keep).length) { next[Number(cid)] = keep; left = true; }
      }
      this.until.value = next;
      if (left) this.schedulePrune();
    }, 1000);
  }
}
