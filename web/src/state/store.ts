// The client's state and its sync engine. Network and cache in, signals out; never touches the DOM.
// The sync rules follow docs/PROTOCOL.md §8.6: sync on every (re)connect, fill gaps by seq,
// resend pending sends with their original client_msg_id.
import { batch, signal, type Signal } from "@preact/signals";
import type {
  ClientRequest, ConversationSummary, Event, Friend, FriendRequestList, Member, Message,
  SyncResponse, UserEvent, UserProfile,
} from "../generated/protocol";
import type { Api } from "../net/api";
import { ApiError } from "../net/api";
import type { ConnState, SocketHooks } from "../net/socket";
import { Account } from "./account";
import { Contacts } from "./contacts";
import { Groups } from "./groups";
import { Outbox } from "./outbox";
import { memoryCache, type Cache } from "./cache";
import {
  classifyLive, contiguousTail, heldSeq, mergeMessages, sortConversations,
  summaryWithMessage, summaryWithRead, upsertConversations, type PendingSend,
} from "./timeline";

export interface Session { token: string; device_id: number; user: UserProfile }

export interface Transport {
  start(): void;
  stop(): void;
  kick(): void;
  /** Checks a connection that may have died unnoticed (the browser went offline). */
  probe(): void;
  readonly isOnline: boolean;
  request<T>(req: ClientRequest): Promise<T>;
  notify(req: ClientRequest): void;
}

export type Connect = (token: string, hooks: SocketHooks) => Transport;

export interface TimelineState {
  messages: Message[];
  /** The newest page (or the cached one) has been loaded at least once. */
  loaded: boolean;
  hasOlder: boolean;
  loadingOlder: boolean;
}

const EMPTY_TIMELINE: TimelineState = { messages: [], loaded: false, hasOlder: false, loadingOlder: false };
const PAGE = 50;
/** Older history comes in bigger pages: scrolling back is a read of many, and the timeline is virtualized. */
const OLDER_PAGE = 100;
/** Past this many missing messages, a timeline restarts from the newest page instead of filling. */
const MAX_FILL_PAGES = 5;
const TYPING_MS = 6000;

export class ChatStore {
  /** The state and flows of each domain; views call these, not `api`. */
  readonly contacts = new Contacts(this);
  readonly outbox = new Outbox(this);
  readonly groups = new Groups(this);
  readonly account = new Account(this);

  readonly me = signal<UserProfile | null>(null);
  readonly conn = signal<ConnState>("offline");
  readonly conversations = signal<ConversationSummary[]>([]);
  // The domains' signals, under the names the screens have always read.
  readonly pending = this.outbox.pending;
  readonly friends = this.contacts.friends;
  readonly requests = this.contacts.requests;
  readonly blocks = this.contacts.blocks;
  /** conversation id → user id → time the indicator expires. */
  readonly typing = signal<Record<number, Record<number, number>>>({});
  readonly people = this.contacts.people;
  readonly activeId = signal<number | null>(null);
  /** Whether the chat is visible and scrolled to the bottom (so arriving messages count as read). */
  readonly viewing = signal(false);
  /** Set when a sync or catch-up has completed since the last (re)connect. */
  readonly synced = signal(false);
  /** Unsent text per conversation. */
  readonly drafts = signal<Record<number, string>>({});

  onIncoming: (m: Message) => void = () => {};
  onRevoked: () => void = () => {};
  /** Someone else removed the user from a group (its name). */
  onRemoved: (name: string) => void = () => {};

  private timelines = new Map<number, Signal<TimelineState>>();
  private memberSignals = new Map<number, Signal<Member[] | null>>();
  /** The connection; the domains send through it (outbox). */
  transport: Transport | null = null;
  private session: Session | null = null;
  private cursor = 0;
  private appliedCursors = new Set<number>();
  private syncing = false;
  /** How long a live message that overtook others waits for them (§8.6). */
  reorderWindowMs = 500;
  private readonly pendingFills = new Map<number, ReturnType<typeof setTimeout>>();
  private syncAgain = false;
  private fills = new Map<number, Promise<void>>();
  private persistTimer: ReturnType<typeof setTimeout> | null = null;
  private typingTimer: ReturnType<typeof setTimeout> | null = null;
  private lastTypingSent = new Map<number, number>();
  private stopped = false;

  /** This device's cache; the domains keep their part of it (outbox). */
  cache: Cache = memoryCache();

  /** Conversations being fetched, so that a reply and an event ask once. */
  private fetching = new Map<number, Promise<void>>();

  constructor(readonly api: Api, private readonly connect: Connect) {}

  get myId(): number { return this.me.value?.id ?? 0; }
  get token(): string | null { return this.session?.token ?? null; }

  // ---------------------------------------------------------------- lifecycle

  /** Shows what the cache holds at once, then connects and catches up. */
  async start(session: Session, cache: Cache): Promise<void> {
    this.cache = cache;
    this.session = session;
    this.stopped = false;
    this.api.token = session.token;
    this.me.value = session.user;
    await this.cache.put("session", session);
    const [convs, friends, requests, blocks, cursor, pending, me] = await Promise.all([
      this.cache.get<ConversationSummary[]>("conversations"),
      this.cache.get<Friend[]>("friends"),
      this.cache.get<FriendRequestList>("requests"),
      this.cache.get<UserProfile[]>("blocks"),
      this.cache.get<number>("cursor"),
      this.cache.allPending(),
      this.cache.get<UserProfile>("me"),
    ]);
    const drafts = await this.cache.get<Record<number, string>>("drafts");
    if (drafts) this.drafts.value = drafts;
    batch(() => {
      if (me) this.me.value = me;
      if (convs) this.conversations.value = sortConversations(convs);
      if (friends) this.contacts.setFriends(friends);
      if (requests) this.requests.value = requests;
      if (blocks) this.blocks.value = blocks;
      this.outbox.load(pending);
    });
    this.cursor = cursor ?? 0;
    if (this.stopped) return;
    this.transport = this.connect(session.token, {
      // A stalled connection is still the same session: it has lost no events yet.
      onState: (s) => { this.conn.value = s; if (s !== "online" && s !== "stalled") this.synced.value = false; },
      onAuthOk: (user) => { this.me.value = user; this.persistSoon(); void this.catchUp(); },
      onEvent: (e) => this.onEvent(e),
      onRevoked: () => this.onRevoked(),
    });
    this.transport.start();
  }

  /** Stops the connection and forgets everything, in memory and in the cache. */
  async wipe(): Promise<void> {
    this.stopped = true;
    for (const timer of this.pendingFills.values()) clearTimeout(timer);
    this.pendingFills.clear();
    this.transport?.stop();
    this.transport = null;
    if (this.persistTimer) clearTimeout(this.persistTimer);
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.persistTimer = this.typingTimer = null;
    this.session = null;
    this.api.token = null;
    this.timelines.clear();
    this.memberSignals.clear();
    this.cursor = 0;
    this.appliedCursors.clear();
    batch(() => {
      this.me.value = null;
      this.conversations.value = [];
      this.outbox.reset();
      this.contacts.reset();
      this.typing.value = {};
      this.activeId.value = null;
      this.drafts.value = {};
      this.conn.value = "offline";
    });
    await this.cache.destroy();
  }

  reconnectNow(): void { this.transport?.kick(); }

  /** The browser says the network went away: find out now rather than at the next ping. */
  checkConnection(): void { this.transport?.probe(); }

  setDraft(conversationId: number, text: string): void {
    const cur = this.drafts.value;
    if ((cur[conversationId] ?? "") === text) return;
    const next = { ...cur };
    if (text) next[conversationId] = text; else delete next[conversationId];
    this.drafts.value = next;
    this.persistSoon();
  }

  // ---------------------------------------------------------------- sync

  /** §8.6 steps 2–7. Safe to call again at any time; concurrent calls coalesce. */
  async catchUp(): Promise<void> {
    if (this.syncing) { this.syncAgain = true; return; }
    this.syncing = true;
    try {
      do {
        this.syncAgain = false;
        const r = await this.api.sync(this.cursor);
        if (this.stopped) return;
        await this.applySync(r);
        if (this.stopped) return;
        this.cursor = r.cursor;
        this.appliedCursors = new Set([...this.appliedCursors].filter((c) => c > r.cursor));
        this.persistSoon();
      } while (this.syncAgain);
      await this.contacts.refreshFriends();
      const active = this.activeId.value;
      if (active !== null) void this.loadMembers(active);
      this.synced.value = true;
      await this.flushPending();
    } catch (e) {
      // Keep the old cursor: the next connect redoes the catch-up, and a
      // sync refused for its budget is tried again once the server says.
      console.warn("catch-up failed", e);
      if (e instanceof ApiError && e.code === "rate_limited" && !this.stopped) {
        setTimeout(() => { if (!this.stopped) void this.catchUp(); }, e.retryAfterMs ?? 1000);
      }
    } finally {
      this.syncing = false;
    }
  }

  async applySync(r: SyncResponse): Promise<void> {
    if (r.reset) {
      const keep = new Set(r.conversations.map((c) => c.id));
      for (const id of [...this.timelines.keys()]) {
        if (!keep.has(id)) { this.timelines.delete(id); void this.cache.deleteConversation(id); }
      }
      this.conversations.value = upsertConversations(
        this.conversations.value.filter((c) => keep.has(c.id)), r.conversations);
      const [friends, requests, blocks, me] = await Promise.all([
        this.api.friends(), this.api.friendRequests(), this.api.blocks(), this.api.me(),
      ]);
      batch(() => {
        this.contacts.setFriends(friends.friends);
        this.requests.value = requests;
        this.blocks.value = blocks.users;
        this.me.value = me;
      });
    } else {
      for (const e of r.events) this.applyUserEvent(e);
      this.conversations.value = upsertConversations(this.conversations.value, r.conversations);
    }
    await Promise.all(r.conversations.map((c) => this.catchUpConversation(c.id, c.last_seq)));
  }

  /** Brings a timeline up to `lastSeq`: from the cache, then forward from the server. */
  async catchUpConversation(id: number, lastSeq: number): Promise<void> {
    await this.ensureLoaded(id);
    const held = heldSeq(this.timeline(id).value.messages);
    if (lastSeq > held) await this.fill(id, held, lastSeq + 1);
  }

  /** Loads the newest page of a timeline once: from the cache if it has it, else from the server. */
  async ensureLoaded(id: number): Promise<void> {
    const tl = this.timeline(id);
    if (tl.value.loaded) return;
    const cached = contiguousTail(await this.cache.messages(id, PAGE));
    if (tl.value.loaded) return;
    if (cached.length > 0) {
      this.setTimeline(id, { messages: mergeMessages(cached, tl.value.messages), loaded: true, hasOlder: cached[0]!.seq > 1 });
      return;
    }
    try {
      const page = await this.api.history(id, { limit: PAGE });
      await this.cache.putMessages(page.messages);
      this.setTimeline(id, {
        messages: mergeMessages(tl.value.messages, page.messages), loaded: true, hasOlder: page.has_more,
      });
      this.outbox.settle(page.messages);
    } catch (e) {
      if (e instanceof ApiError && e.code === "network") return;
      throw e;
    }
  }

  /** Fetches the messages with after < seq < before; one fill per conversation at a time. */
  fill(id: number, after: number, before?: number): Promise<void> {
    const prev = this.fills.get(id) ?? Promise.resolve();
    const next = prev.then(() => this.doFill(id, after, before), () => this.doFill(id, after, before));
    this.fills.set(id, next);
    return next.finally(() => { if (this.fills.get(id) === next) this.fills.delete(id); });
  }

  private async doFill(id: number, after: number, before?: number): Promise<void> {
    // Another fill may have got there first.
    after = Math.max(after, heldSeq(this.timeline(id).value.messages));
    if (before !== undefined && after >= before - 1) return;
    for (let pages = 0; ; pages++) {
      if (pages >= MAX_FILL_PAGES) {
        // Too far behind: restart from the newest page; older ones load on scroll.
        const page = await this.api.history(id, { limit: PAGE });
        await this.cache.putMessages(page.messages);
        this.setTimeline(id, { messages: page.messages, loaded: true, hasOlder: page.has_more });
        this.outbox.settle(page.messages);
        return;
      }
      const q: { after: number; before?: number; limit: number } = { after, limit: 100 };
      if (before !== undefined) q.before = before;
      const page = await this.api.history(id, q);
      this.addMessages(id, page.messages);
      const last = page.messages[page.messages.length - 1];
      if (!page.has_more || !last) return;
      after = last.seq;
    }
  }

  /** Older messages for scrolling up: from the cache when it has them contiguously, else the server. */
  async loadOlder(id: number): Promise<void> {
    const tl = this.timeline(id);
    const cur = tl.value;
    if (!cur.loaded || !cur.hasOlder || cur.loadingOlder) return;
    const first = cur.messages[0];
    if (!first) return;
    this.setTimeline(id, { loadingOlder: true });
    try {
      let older = await this.cache.messages(id, OLDER_PAGE, first.seq);
      const lastCached = older[older.length - 1];
      if (!lastCached || lastCached.seq !== first.seq - 1) older = [];
      else older = contiguousTail(older);
      let hasOlder: boolean;
      if (older.length > 0) {
        hasOlder = older[0]!.seq > 1;
      } else {
        const page = await this.api.history(id, { before: first.seq, limit: OLDER_PAGE });
        await this.cache.putMessages(page.messages);
        older = page.messages;
        hasOlder = page.has_more;
      }
      this.setTimeline(id, { messages: mergeMessages(tl.value.messages, older), hasOlder, loadingOlder: false });
    } catch {
      this.setTimeline(id, { loadingOlder: false });
    }
  }

  // ---------------------------------------------------------------- events

  onEvent(e: Event): void {
    switch (e.type) {
      case "message": void this.onMessage(e.message); break;
      case "user": this.applyUserEvent(e.event); break;
      case "read": this.onPeerRead(e.conversation_id, e.user_id, e.read_seq); break;
      case "typing": this.onTyping(e.conversation_id, e.user_id); break;
      case "presence": this.contacts.onPresence(e.user_id, e.online, e.last_seen_at); break;
      case "profile": this.onProfile(e.user); break;
      default: break; // Unknown event types are ignored (protocol §2).
    }
  }

  /** A friend's new display name: everywhere it shows, at once. */
  private onProfile(user: UserProfile): void {
    batch(() => {
      this.contacts.onProfile(user);
      this.conversations.value = this.conversations.value.map((c) =>
        c.peer?.id === user.id ? { ...c, peer: user, name: user.display_name } : c);
    });
    this.persistSoon();
  }

  async onMessage(m: Message): Promise<void> {
    const id = m.conversation_id;
    if (!this.conversations.value.some((c) => c.id === id)) {
      try {
        const summary = await this.api.conversation(id);
        this.conversations.value = upsertConversations(this.conversations.value, [summary]);
      } catch {
        return; // Not ours (any more): nothing to show.
      }
    }
    if (m.sender_id !== this.myId) this.clearTyping(id, m.sender_id);
    const tl = this.timeline(id);
    const held = heldSeq(tl.value.messages);
    const outcome = tl.value.loaded ? classifyLive(held, m.seq) : null;
    if (outcome?.kind === "duplicate") return;
    this.addMessages(id, [m]);
    if (m.sender_id !== this.myId && m.content.kind !== "system") this.onIncoming(m);
    if (!tl.value.loaded) await this.catchUpConversation(id, m.seq);
    else if (outcome?.kind === "gap") {
      // §8.6: live messages may overtake each other; wait for the missing ones
      // a moment before asking history for them.
      if (this.reorderWindowMs <= 0) await this.fill(id, outcome.after, outcome.before);
      else this.fillLater(id);
    }
    if (m.content.kind === "system") this.onSystemMessage(m);
  }

  /** After the reorder window, fetches what is still missing below the newest
   * message of a timeline (nothing, when the overtaken messages came live). */
  private fillLater(id: number): void {
    if (this.pendingFills.has(id)) return;
    this.pendingFills.set(id, setTimeout(() => {
      this.pendingFills.delete(id);
      if (this.stopped) return;
      const msgs = this.timeline(id).value.messages;
      const held = heldSeq(msgs);
      const newest = msgs.length > 0 ? msgs[msgs.length - 1]!.seq : held;
      if (newest > held + 1) void this.fill(id, held, newest);
    }, this.reorderWindowMs));
  }

  /** Adds messages to a timeline, the cache and the conversation summary. */
  addMessages(id: number, msgs: readonly Message[]): void {
    if (msgs.length === 0) return;
    void this.cache.putMessages(msgs);
    const tl = this.timeline(id);
    batch(() => {
      this.setTimeline(id, { messages: mergeMessages(tl.value.messages, msgs) });
      const myId = this.myId;
      this.conversations.value = sortConversations(this.conversations.value.map((c) => {
        if (c.id !== id) return c;
        let s = c;
        for (const m of msgs) s = summaryWithMessage(s, m, myId);
        return s;
      }));
      this.outbox.settle(msgs);
    });
    this.persistSoon();
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
        void this.ensureConversation(ch.friend.conversation_id);
        break;
      case "friend_removed":
        this.friends.value = this.friends.value.filter((f) => f.user.id !== ch.user_id);
        break;
      case "friend_updated":
        this.friends.value = this.friends.value.map((f) => (f.user.id === ch.user_id ? { ...f, remark: ch.remark } : f));
        break;
      case "block_changed":
        void this.api.blocks().then((b) => { this.blocks.value = b.users; this.persistSoon(); }, () => {});
        break;
      case "conversation_joined":
        void this.api.conversation(ch.conversation_id).then(
          (s) => { this.conversations.value = upsertConversations(this.conversations.value, [s]); void this.catchUpConversation(s.id, s.last_seq); },
          () => {});
        break;
      case "conversation_left": {
        const left = this.conversations.value.find((c) => c.id === ch.conversation_id);
        if (left && ch.removed_by !== null && ch.removed_by !== this.myId) this.onRemoved(left.name ?? "");
        this.forgetConversation(ch.conversation_id);
        break;
      }
      case "read_position":
        this.conversations.value = this.conversations.value.map((c) =>
          c.id === ch.conversation_id ? summaryWithRead(c, ch.read_seq) : c);
        break;
      case "profile_updated": {
        const cur = this.me.value;
        if (cur) this.me.value = { ...cur, display_name: ch.display_name };
        break;
      }
      default: break;
    }
    this.persistSoon();
  }

  private onSystemMessage(m: Message): void {
    if (m.content.kind !== "system") return;
    const ev = m.content.event;
    const id = m.conversation_id;
    // Keep the summary's name, announcement and membership current.
    if (ev.type === "renamed") this.patchConversation(id, { name: ev.name });
    if (ev.type === "announcement_set") this.patchConversation(id, { announcement: ev.text === "" ? null : ev.text });
    if (ev.type === "member_left" && ev.user === this.myId) { this.forgetConversation(id); return; }
    if (ev.type === "member_removed" && ev.user === this.myId) {
      // Whichever of this and `conversation_left` comes first tells the user.
      const c = this.conversations.value.find((x) => x.id === id);
      if (c && ev.by !== this.myId) this.onRemoved(c.name ?? "");
      this.forgetConversation(id);
      return;
    }
    if (["members_added", "member_removed", "member_left", "role_changed", "ownership_transferred"].includes(ev.type)) {
      void this.api.conversation(id).then((s) => this.patchConversation(id, { my_role: s.my_role, member_count: s.member_count }), () => {});
      if (this.memberSignals.has(id)) void this.loadMembers(id);
    }
  }

  private onPeerRead(id: number, userId: number, readSeq: number): void {
    const ms = this.memberSignals.get(id);
    if (ms?.value) ms.value = ms.value.map((m) => (m.user.id === userId ? { ...m, read_seq: Math.max(m.read_seq, readSeq) } : m));
  }

  private onTyping(id: number, userId: number): void {
    const cur = this.typing.value;
    this.typing.value = { ...cur, [id]: { ...(cur[id] ?? {}), [userId]: Date.now() + TYPING_MS } };
    this.scheduleTypingPrune();
  }

  private clearTyping(id: number, userId: number): void {
    const conv = this.typing.value[id];
    if (!conv || !(userId in conv)) return;
    const { [userId]: _gone, ...rest } = conv;
    this.typing.value = { ...this.typing.value, [id]: rest };
  }

  private scheduleTypingPrune(): void {
    if (this.typingTimer) return;
    this.typingTimer = setTimeout(() => {
      this.typingTimer = null;
      const now = Date.now();
      const next: Record<number, Record<number, number>> = {};
      let left = false;
      for (const [cid, users] of Object.entries(this.typing.value)) {
        const keep = Object.fromEntries(Object.entries(users).filter(([, t]) => t > now));
        if (Object.keys(keep).length) { next[Number(cid)] = keep; left = true; }
      }
      this.typing.value = next;
      if (left) this.scheduleTypingPrune();
    }, 1000);
  }

  // ---------------------------------------------------------------- sending


  /** Shows the message at once as pending, stores it in the outbox, sends it when connected. */
  sendText(conversationId: number, text: string): PendingSend {
    this.lastTypingSent.delete(conversationId);
    return this.outbox.send(conversationId, text);
  }
  retrySend(clientMsgId: string): void { this.outbox.retry(clientMsgId); }
  discardSend(clientMsgId: string): void { this.outbox.discard(clientMsgId); }
  flushPending(): Promise<void> { return this.outbox.flush(); }

  /** Tells the others we are typing, at most every 3 seconds. */
  typingNow(conversationId: number): void {
    const now = Date.now();
    if (now - (this.lastTypingSent.get(conversationId) ?? 0) < 3000) return;
    this.lastTypingSent.set(conversationId, now);
    this.transport?.notify({ type: "typing", conversation_id: conversationId });
  }

  /** Marks everything held in the conversation as read. */
  markRead(conversationId: number): void {
    const c = this.conversations.value.find((x) => x.id === conversationId);
    const seq = heldSeq(this.timeline(conversationId).value.messages);
    if (!c || seq <= c.read_seq) return;
    this.conversations.value = this.conversations.value.map((x) => (x.id === conversationId ? summaryWithRead(x, seq) : x));
    this.persistSoon();
    const t = this.transport;
    if (t?.isOnline) {
      t.request({ type: "read", conversation_id: conversationId, seq }).catch(() => {});
    } else {
      this.api.markRead(conversationId, seq).catch(() => {});
    }
  }

  // ---------------------------------------------------------------- people and groups

  timeline(id: number): Signal<TimelineState> {
    let s = this.timelines.get(id);
    if (!s) { s = signal(EMPTY_TIMELINE); this.timelines.set(id, s); }
    return s;
  }

  members(id: number): Signal<Member[] | null> {
    let s = this.memberSignals.get(id);
    if (!s) { s = signal<Member[] | null>(null); this.memberSignals.set(id, s); }
    return s;
  }

  async loadMembers(id: number): Promise<void> {
    try {
      const r = await this.api.members(id);
      this.members(id).value = r.members;
      this.contacts.rememberPeople(r.members.map((m) => m.user));
    } catch {
      // Offline or not a member any more: keep what we have.
    }
  }


  /** How a user is called here: my remark for a friend, else their display name. */
  nameOf(userId: number): string { return this.contacts.nameOf(userId); }
  presenceOf(friend: Friend | undefined): boolean | null { return this.contacts.presenceOf(friend); }

  /** Fetches a conversation the list does not hold yet (once, however many ask). */
  ensureConversation(id: number): Promise<void> {
    if (this.conversations.value.some((c) => c.id === id)) return Promise.resolve();
    let pending = this.fetching.get(id);
    if (!pending) {
      pending = this.api.conversation(id).then((s) => this.addConversation(s), () => {})
        .finally(() => this.fetching.delete(id));
      this.fetching.set(id, pending);
    }
    return pending;
  }

  /** Adds a conversation summary we learned of from a reply (group created, direct opened). */
  addConversation(s: ConversationSummary): void {
    this.conversations.value = upsertConversations(this.conversations.value, [s]);
    this.persistSoon();
    void this.catchUpConversation(s.id, s.last_seq);
  }

  patchConversation(id: number, patch: Partial<ConversationSummary>): void {
    this.conversations.value = this.conversations.value.map((c) => (c.id === id ? { ...c, ...patch } : c));
    this.persistSoon();
  }

  forgetConversation(id: number): void {
    this.conversations.value = this.conversations.value.filter((c) => c.id !== id);
    this.timelines.delete(id);
    this.memberSignals.delete(id);
    void this.cache.deleteConversation(id);
    if (this.activeId.value === id) this.activeId.value = null;
    this.persistSoon();
  }


  private setTimeline(id: number, patch: Partial<TimelineState>): void {
    const s = this.timeline(id);
    s.value = { ...s.value, ...patch };
  }

  persistSoon(): void {
    if (this.persistTimer || this.stopped) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = null;
      if (this.stopped) return;
      void Promise.all([
        this.cache.put("conversations", this.conversations.value),
        this.cache.put("friends", this.friends.value),
        this.cache.put("requests", this.requests.value),
        this.cache.put("blocks", this.blocks.value),
        this.cache.put("cursor", this.cursor),
        this.cache.put("me", this.me.value),
        this.cache.put("drafts", this.drafts.value),
      ]).catch(() => {});
    }, 250);
  }
}
