// One conversation's timeline as the chat shows it: the held messages, then
// the sends not confirmed yet; what it reads (typing, receipts) and asks
// (older pages, read marks, retries).
import { computed } from "@preact/signals";
import type { Message } from "../generated/protocol";
import type { ChatStore } from "../state/store";
import { deliveryState, indexOfSeq, timelineItems, type TimelineItem } from "../state/timeline";
import type { TimelineState } from "../state/timelines";
import type { Names } from "./names";

export class TimelineViewModel implements Names {
  readonly state = computed<TimelineState>(() => this.store.timelines.timeline(this.id).value);
  private readonly pendingHere = computed(() =>
    this.store.outbox.pending.value.filter((p) => p.conversation_id === this.id));
  /** Items keep their identity while their message does, so memoized rows skip re-rendering. */
  readonly items = computed<TimelineItem[]>(() =>
    timelineItems(this.state.value.messages, this.pendingHere.value, this.store.session.myId));

  constructor(private readonly store: ChatStore, readonly id: number) {}

  get myId(): number { return this.store.session.myId; }
  nameOf(userId: number): string { return this.store.contacts.nameOf(userId); }

  /** The message a reply quotes: null when it is older than what is held. */
  quoted(seq: number): Message | null {
    const messages = this.state.value.messages;
    const at = indexOfSeq(messages, seq);
    return at >= 0 ? messages[at]! : null;
  }

  /** Read receipt of one of our messages, from the members' read positions. */
  delivery(seq: number) {
    return deliveryState(seq, this.store.members.of(this.id).value ?? [], this.myId);
  }

  /** Who is typing here now, by name. */
  typingNames(): string[] {
    return this.store.typing.typers(this.id).map((uid) => this.nameOf(uid));
  }

  loadOlder(): void { void this.store.timelines.loadOlder(this.id); }

  /** The newest messages are on screen: everything held counts as read. */
  markRead(): void { this.store.conversations.markRead(this.id, this.store.timelines.heldSeq(this.id)); }

  retry(clientMsgId: string): void { this.store.outbox.retry(clientMsgId); }
  discard(clientMsgId: string): void { this.store.outbox.discard(clientMsgId); }
}
