// Unsent text per conversation, kept across reloads.
import { signal } from "@preact/signals";
import type { Session } from "./session";

export class Drafts {
  readonly byConversation = signal<Record<number, string>>({});

  constructor(private readonly session: Session) {
    session.persist("drafts", () => this.byConversation.value);
  }

  async restore(): Promise<() => void> {
    const cached = await this.session.cache.get<Record<number, string>>("drafts");
    return () => { if (cached) this.byConversation.value = cached; };
  }

  /** The draft as it was when asked, without subscribing to later changes. */
  peek(conversationId: number): string { return this.byConversation.peek()[conversationId] ?? ""; }

  set(conversationId: number, text: string): void {
    const cur = this.byConversation.value;
    if ((cur[conversationId] ?? "") === text) return;
    const next = { ...cur };
    if (text) next[conversationId] = text; else delete next[conversationId];
    this.byConversation.value = next;
    this.session.persistSoon();
  }

  reset(): void { this.byConversation.value = {}; }
}
