// One open chat: its header (title, presence or member count), and the
// timeline and composer below it.
import { computed } from "@preact/signals";
import type { ChatStore } from "../state/store";
import { ComposerViewModel } from "./composer";
import { conversationSeed, conversationTitle } from "./names";
import { TimelineViewModel } from "./timeline";

/** The line under the title; the view words it. */
export type ChatSubtitle =
  | { kind: "members"; n: number }
  /** A friend while disconnected: what was last heard may no longer be true. */
  | { kind: "unknown" }
  | { kind: "online" }
  | { kind: "lastSeen"; at: number }
  | { kind: "offline" };

export class ChatViewModel {
  readonly conversation = computed(() => this.store.conversations.find(this.id));
  readonly title = computed(() => {
    const c = this.conversation.value;
    return c ? conversationTitle(c, this.store.contacts.friends.value) : "";
  });
  readonly avatarSeed = computed(() => {
    const c = this.conversation.value;
    return c ? conversationSeed(c) : undefined;
  });
  /** The peer of a direct chat, when a friend. */
  readonly friend = computed(() => {
    const peer = this.conversation.value?.kind === "direct" ? this.conversation.value.peer : null;
    return peer ? this.store.contacts.friends.value.find((f) => f.user.id === peer.id) : undefined;
  });
  readonly online = computed(() => this.store.contacts.presenceOf(this.friend.value));
  readonly subtitle = computed<ChatSubtitle>(() => {
    const c = this.conversation.value;
    const friend = this.friend.value;
    const online = this.online.value;
    if (c?.kind === "group") return { kind: "members", n: c.member_count };
    if (friend && online === null) return { kind: "unknown" };
    if (online) return { kind: "online" };
    if (friend?.last_seen_at) return { kind: "lastSeen", at: friend.last_seen_at };
    return { kind: "offline" };
  });

  readonly timeline: TimelineViewModel;
  readonly composer: ComposerViewModel;

  constructor(private readonly store: ChatStore, readonly id: number) {
    this.timeline = new TimelineViewModel(store, id);
    this.composer = new ComposerViewModel(store, id);
  }

  /** The chat came on screen: it becomes the active one and catches up. The cleanup for when it leaves. */
  open(): () => void {
    const { conversations, timelines, members } = this.store;
    const id = this.id;
    conversations.activeId.value = id;
    const c = conversations.find(id);
    void timelines.ensureLoaded(id).then(() => (c ? timelines.catchUp(id, c.last_seq) : undefined)).catch(() => {});
    void members.load(id);
    return () => { if (conversations.activeId.value === id) conversations.activeId.value = null; };
  }
}
