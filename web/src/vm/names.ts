// How the screens name people and conversations.
import type { ConversationSummary, Friend } from "../generated/protocol";

/** What a view needs to name the senders and members it shows. */
export interface Names {
  readonly myId: number;
  /** My remark for a friend, else their display name (looked up when unknown). */
  nameOf(userId: number): string;
}

/** Title of a conversation: my remark for the peer, else the server's name. */
export function conversationTitle(c: ConversationSummary, friends: readonly Friend[]): string {
  if (c.kind === "direct" && c.peer) {
    const f = friends.find((x) => x.user.id === c.peer!.id);
    if (f?.remark) return f.remark;
    return f?.user.display_name ?? c.name;
  }
  return c.name;
}

/** The avatar colour's seed: the peer for a direct chat, so it matches their avatar elsewhere. */
export function conversationSeed(c: ConversationSummary): string | number | undefined {
  return c.kind === "direct" ? c.peer?.id : `g${c.id}`;
}
