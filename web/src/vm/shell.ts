// The frame around every screen: the tab rail's badges and the connection badge.
import { computed } from "@preact/signals";
import type { ChatStore } from "../state/store";

export class ShellViewModel {
  readonly me = computed(() => this.store.session.me.value);
  readonly unread = computed(() => this.store.conversations.unreadTotal.value);
  readonly incomingRequests = computed(() => this.store.contacts.requests.value.incoming.length);
  readonly conn = computed(() => this.store.session.conn.value);
  /** Whether asking to reconnect now can help (a revoked session cannot come back). */
  readonly canRetry = computed(() => ["offline", "connecting", "stalled"].includes(this.conn.value));

  constructor(private readonly store: ChatStore) {}

  reconnect(): void { this.store.session.reconnectNow(); }
}
