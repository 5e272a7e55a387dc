// The list of chats: newest activity first (the order the state keeps), with
// titles as this user calls each peer, and a filter.
import { computed, signal } from "@preact/signals";
import type { ConversationSummary } from "../generated/protocol";
import type { ChatStore } from "../state/store";
import { matchesFilter } from "../state/timeline";
import { conversationSeed, conversationTitle, type Names } from "./names";

export interface ChatRow {
  conv: ConversationSummary;
  title: string;
  avatarSeed: string | number | undefined;
  /** The peer's presence in a direct chat; null when unknown or a group. */
  online: boolean | null;
}

export class ChatListViewModel implements Names {
  readonly filter = signal("");
  readonly rows = computed<ChatRow[]>(() => {
    const { contacts, conversations } = this.store;
    const friends = contacts.friends.value;
    const filter = this.filter.value;
    const rows: ChatRow[] = [];
    for (const conv of conversations.list.value) {
      const title = conversationTitle(conv, friends);
      if (!matchesFilter(title, [conv.name, conv.peer?.username], filter)) continue;
      const peer = conv.kind === "direct" ? conv.peer : null;
      const online = peer ? contacts.presenceOf(friends.find((f) => f.user.id === peer.id)) : null;
      rows.push({ conv, title, avatarSeed: conversationSeed(conv), online });
    }
    return rows;
  });

  constructor(private readonly store: ChatStore) {}

  get myId(): number { return this.store.session.myId; }
  nameOf(userId: number): string { return this.store.contacts.nameOf(userId); }

  setFilter(text: string): void { this.filter.value = text; }
}
