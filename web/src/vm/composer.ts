// The message box of one chat: its text (kept as a draft), the size limit,
// and sending.
import { computed, signal, type Signal } from "@preact/signals";
import type { ChatStore } from "../state/store";
import { textBudget } from "./text";

export class ComposerViewModel {
  readonly text: Signal<string>;
  /** What would be sent: the text without surrounding blank space. */
  readonly body = computed(() => this.text.value.trim());
  readonly budget = computed(() => textBudget(this.body.value));
  /** Offline, the app is read-only: a send would only wait in the outbox unseen by the user. */
  readonly offline = computed(() => this.store.session.conn.value === "offline");
  readonly canSend = computed(() => this.body.value !== "" && !this.offline.value && !this.budget.value.over);

  constructor(private readonly store: ChatStore, readonly id: number) {
    this.text = signal(store.drafts.peek(id));
  }

  /** The user typed: kept as the draft, and the others are told (not for an emptied box). */
  input(text: string): void {
    this.setText(text);
    if (text) this.store.typing.typingNow(this.id);
  }

  /** Puts `insert` in place of the text from `start` to `end`; the caret's new position. */
  insertAt(insert: string, start: number, end: number): number {
    const cur = this.text.value;
    this.setText(cur.slice(0, start) + insert + cur.slice(end));
    return start + insert.length;
  }

  /** Sends the text if it may be sent; whether it was. */
  send(): boolean {
    if (!this.canSend.value) return false;
    this.store.typing.sent(this.id);
    this.store.outbox.send(this.id, this.body.value);
    this.setText("");
    return true;
  }

  private setText(text: string): void {
    this.text.value = text;
    this.store.drafts.set(this.id, text);
  }
}
