// Members of each conversation, with how far each has read: the read receipts
// of our messages come from here. Loaded when a chat opens, kept current by
// read events and refreshed after membership changes.
import { signal, type Signal } from "@preact/signals";
import type { Member } from "../generated/protocol";
import type { Contacts } from "./contacts";
import type { Session } from "./session";

export class Members {
  private readonly lists = new Map<number, Signal<Member[] | null>>();

  constructor(private readonly session: Session, private readonly contacts: Contacts) {}

  /** A conversation's members: null until loaded. */
  of(id: number): Signal<Member[] | null> {
    let s = this.lists.get(id);
    if (!s) { s = signal<Member[] | null>(null); this.lists.set(id, s); }
    return s;
  }

  /** Whether anything shows this conversation's members (so a change is worth a reload). */
  isShown(id: number): boolean { return this.lists.has(id); }

  async load(id: number): Promise<void> {
    try {
      const r = await this.session.api.members(id);
      this.of(id).value = r.members;
      this.contacts.rememberPeople(r.members.map((m) => m.user));
    } catch {
      // Offline or not a member any more: keep what we have.
    }
  }

  /** A member read up to `readSeq` (positions only move forward). */
  onPeerRead(id: number, userId: number, readSeq: number): void {
    const ms = this.lists.get(id);
    if (ms?.value) ms.value = ms.value.map((m) => (m.user.id === userId ? { ...m, read_seq: Math.max(m.read_seq, readSeq) } : m));
  }

  forget(id: number): void { this.lists.delete(id); }

  reset(): void { this.lists.clear(); }
}
