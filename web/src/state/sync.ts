// The sync engine: catch-up on every (re)connect and the live events in
// between, each handed to the domain it changes. The rules follow
// docs/PROTOCOL.md §8.6: sync from the stored cursor, fill gaps by seq, resend
// pending sends with their original client_msg_id.
import { batch } from "@preact/signals";
import type { Event, Message, SyncResponse, UserEvent, UserProfile } from "../generated/protocol";
import { ApiError } from "../net/api";
import type { Contacts } from "./contacts";
import type { Conversations } from "./conversations";
import type { Members } from "./members";
import type { Outbox } from "./outbox";
import type { Session } from "./session";
import type { Timelines } from "./timelines";
import type { Typing } from "./typing";

/** What the sync tells the app about, for notifications and notices. */
export interface SyncHooks {
  /** A message from someone else arrived live. */
  incoming(m: Message): void;
  /** Someone else removed the user from a group (its name). */
  removed(name: string): void;
}

/** The system events after which a conversation's role or member count may differ. */
const MEMBERSHIP_EVENTS = new Set(["members_added", "member_removed", "member_left", "role_changed", "ownership_transferred"]);

export class Sync {
  private cursor = 0;
  /** User events applied live above the cursor, so the next sync does not apply them again. */
  private appliedCursors = new Set<number>();
  private syncing = false;
  private syncAgain = false;

  constructor(
    private readonly session: Session,
    private readonly conversations: Conversations,
    private readonly timelines: Timelines,
    private readonly contacts: Contacts,
    private readonly members: Members,
    private readonly typing: Typing,
    private readonly outbox: Outbox,
    private readonly hooks: SyncHooks,
  ) {
    session.persist("cursor", () => this.cursor);
  }

  async restore(): Promise<() => void> {
    const cursor = await this.session.cache.get<number>("cursor");
    return () => { this.cursor = cursor ?? 0; };
  }

  reset(): void {
    this.cursor = 0;
    this.appliedCursors.clear();
  }

  /** §8.6 steps 2–7. Safe to call again at any time; concurrent calls coalesce. */
  async catchUp(): Promise<void> {
    if (this.syncing) { this.syncAgain = true; return; }
    this.syncing = true;
    const session = this.session;
    try {
      do {
        this.syncAgain = false;
        const r = await session.api.sync(this.cursor);
        if (session.stopped) return;
        await this.applySync(r);
        if (session.stopped) return;
        this.cursor = r.cursor;
        this.appliedCursors = new Set([...this.appliedCursors].filter((c) => c > r.cursor));
        session.persistSoon();
      } while (this.syncAgain);
      await this.contacts.refreshFriends();
      const active = this.conversations.activeId.value;
      if (active !== null) void this.members.load(active);
      session.synced.value = true;
      await this.outbox.flush();
    } catch (e) {
      // Keep the old cursor: the next connect redoes the catch-up, and a
      // sync refused for its budget is tried again once the server says.
      console.warn("catch-up failed", e);
      if (e instanceof ApiError && e.code === "rate_limited" && !session.stopped) {
        setTimeout(() => { if (!session.stopped) void this.catchUp(); }, e.retryAfterMs ?? 1000);
      }
    } finally {
      this.syncing = false;
    }
  }

  async applySync(r: SyncResponse): Promise<void> {
    if (r.reset) {
      // Too far behind for events: the server's lists replace ours.
      this.timelines.retain(new Set(r.conversations.map((c) => c.id)));
      this.conversations.replaceAll(r.conversations);
      const [me] = await Promise.all([this.session.api.me(), this.contacts.reload()]);
      this.session.me.value = me;
    } else {
      for (const e of r.events) this.applyUserEvent(e);
      this.conversations.upsert(r.conversations);
    }
    await Promise.all(r.conversations.map((c) => this.timelines.catchUp(c.id, c.last_seq)));
  }

  onEvent(e: Event): void {
    switch (e.type) {
      case "message": void this.onMessage(e.message); break;
      case "user": this.applyUserEvent(e.event); break;
      case "read": this.members.onPeerRead(e.conversation_id, e.user_id, e.read_seq); break;
      case "typing": this.typing.onTyping(e.conversation_id, e.user_id); break;
      case "presence": this.contacts.onPresence(e.user_id, e.online, e.last_seen_at); break;
      case "profile": this.onProfile(e.user); break;
      default: break; // Unknown event types are ignored (protocol §2).
    }
  }

  async onMessage(m: Message): Promise<void> {
    const id = m.conversation_id;
    if (!this.conversations.find(id) && !(await this.conversations.fetch(id))) return; // Not ours (any more).
    const fromOther = m.sender_id !== this.session.myId;
    if (fromOther) this.typing.clear(id, m.sender_id);
    const completed = this.timelines.receive(m);
    if (!completed) return;
    if (fromOther && m.content.kind !== "system") this.hooks.incoming(m);
    await completed;
    if (m.content.kind === "system") this.onSystemMessage(m);
  }

  applyUserEvent(ev: UserEvent): void {
    if (ev.cursor <= this.cursor || this.appliedCursors.has(ev.cursor)) return;
    this.appliedCursors.add(ev.cursor);
    const ch = ev.change;
    switch (ch.type) {
      case "friend_request_received":
      case "friend_request_updated": {
        const r = ch.request;
        if (r.status === "pending") this.contacts.upsertRequest(r);
        else this.contacts.dropRequest(r.id);
        this.contacts.rememberPeople([r.from, r.to]);
        break;
      }
      case "friend_added":
        // The event carries the friend; the direct conversation has no
        // conversation_joined event, so it is fetched unless known.
        this.contacts.addFriend(ch.friend);
        void this.conversations.ensure(ch.friend.conversation_id);
        break;
      case "friend_removed": this.contacts.dropFriend(ch.user_id); break;
      case "friend_updated": this.contacts.noteRemark(ch.user_id, ch.remark); break;
      case "block_changed": void this.contacts.refreshBlocks(); break;
      case "conversation_joined":
        void this.conversations.fetch(ch.conversation_id).then((s) => { if (s) void this.timelines.catchUp(s.id, s.last_seq); });
        break;
      case "conversation_left": {
        const left = this.conversations.find(ch.conversation_id);
        if (left && ch.removed_by !== null && ch.removed_by !== this.session.myId) this.hooks.removed(left.name ?? "");
        this.conversations.forget(ch.conversation_id);
        break;
      }
      case "read_position": this.conversations.noteRead(ch.conversation_id, ch.read_seq); break;
      case "profile_updated": {
        const cur = this.session.me.value;
        if (cur) this.session.me.value = { ...cur, display_name: ch.display_name };
        break;
      }
      default: break;
    }
    this.session.persistSoon();
  }

  /** A friend's new display name: everywhere it shows, at once. */
  private onProfile(user: UserProfile): void {
    batch(() => {
      this.contacts.onProfile(user);
      this.conversations.notePeer(user);
    });
    this.session.persistSoon();
  }

  /** Keeps the summary's name, announcement and membership current. */
  private onSystemMessage(m: Message): void {
    if (m.content.kind !== "system") return;
    const ev = m.content.event;
    const id = m.conversation_id;
    const myId = this.session.myId;
    if (ev.type === "renamed") this.conversations.patch(id, { name: ev.name });
    if (ev.type === "announcement_set") this.conversations.patch(id, { announcement: ev.text === "" ? null : ev.text });
    if (ev.type === "member_left" && ev.user === myId) { this.conversations.forget(id); return; }
    if (ev.type === "member_removed" && ev.user === myId) {
      // Whichever of this and `conversation_left` comes first tells the user.
      const c = this.conversations.find(id);
      if (c && ev.by !== myId) this.hooks.removed(c.name ?? "");
      this.conversations.forget(id);
      return;
    }
    if (MEMBERSHIP_EVENTS.has(ev.type)) {
      this.conversations.refreshMembership(id);
      if (this.members.isShown(id)) void this.members.load(id);
    }
  }
}
