// The root of the client's state: builds each domain with the domains it
// needs, wires the two hooks that point back up, and runs the session's life
// (log in, resume, start, log out). Network and cache in, signals out; never
// touches the DOM, and nothing above this layer calls the server.
//
// Construction order, which is also the only direction of calls:
//   session → conversations → outbox → timelines → contacts → members
//   → typing, drafts, groups, account → sync
// Upward, only two hooks: conversations.onAdded/onForgotten and outbox.onStored.
import { batch } from "@preact/signals";
import type { Message } from "../generated/protocol";
import type { Api } from "../net/api";
import { Account } from "./account";
import { browserStorage, type Cache, type DeviceStorage } from "./cache";
import { Contacts } from "./contacts";
import { Conversations } from "./conversations";
import { Drafts } from "./drafts";
import { Groups } from "./groups";
import { Members } from "./members";
import { Outbox } from "./outbox";
import { Session, type Connect, type SavedSession } from "./session";
import { Sync } from "./sync";
import { Timelines } from "./timelines";
import { Typing } from "./typing";

export type { Connect, SavedSession, Transport } from "./session";

export class ChatStore {
  readonly session: Session;
  readonly conversations: Conversations;
  readonly outbox: Outbox;
  readonly timelines: Timelines;
  readonly contacts: Contacts;
  readonly members: Members;
  readonly typing: Typing;
  readonly drafts: Drafts;
  readonly groups: Groups;
  readonly account: Account;
  readonly sync: Sync;

  /** A message from someone else arrived live (for notifications). */
  onIncoming: (m: Message) => void = () => {};
  /** The server revoked this device's session. */
  onRevoked: () => void = () => {};
  /** Someone else removed the user from a group (its name). */
  onRemoved: (name: string) => void = () => {};

  constructor(api: Api, connect: Connect, private readonly storage: DeviceStorage = browserStorage) {
    const session = this.session = new Session(api, connect);
    const conversations = this.conversations = new Conversations(session);
    const outbox = this.outbox = new Outbox(session);
    const timelines = this.timelines = new Timelines(session, conversations, outbox);
    const contacts = this.contacts = new Contacts(session, conversations);
    const members = this.members = new Members(session, contacts);
    const typing = this.typing = new Typing(session);
    this.drafts = new Drafts(session);
    this.groups = new Groups(session, conversations);
    this.account = new Account(session);
    this.sync = new Sync(session, conversations, timelines, contacts, members, typing, outbox, {
      incoming: (m) => this.onIncoming(m),
      removed: (name) => this.onRemoved(name),
    });

    conversations.onAdded = (s) => { void timelines.catchUp(s.id, s.last_seq); };
    conversations.onForgotten = (id) => { timelines.forget(id); members.forget(id); };
    outbox.onStored = (m) => timelines.addSent(m);
  }

  // ---------------------------------------------------------------- the session's life

  /** Creates the account; the caller logs in next. */
  async register(username: string, password: string, displayName?: string): Promise<void> {
    await this.session.api.register(username, password, displayName);
  }

  /** Logs this device in and starts the session in a fresh cache. */
  async logIn(username: string, password: string, deviceName: string): Promise<void> {
    const r = await this.session.api.login(username, password, deviceName);
    const cache = await this.storage.open();
    await this.start({ token: r.token, device_id: r.device_id, user: r.user }, cache);
  }

  /** Resumes the session the cache holds, if it holds one. */
  async resume(): Promise<boolean> {
    if (!(await this.storage.exists())) return false;
    const cache = await this.storage.open();
    const saved = await cache.get<SavedSession>("session");
    if (!saved) { await cache.destroy(); return false; }
    await this.start(saved, cache);
    return true;
  }

  /** Ends the session on the server (best effort, unless it is over there already) and wipes it here. */
  async logOut(serverToo = true): Promise<void> {
    if (serverToo && this.session.token) await this.session.api.logout().catch(() => {});
    await this.wipe();
  }

  /** Shows what the cache holds at once, then connects and catches up. */
  async start(saved: SavedSession, cache: Cache): Promise<void> {
    const session = this.session;
    await session.begin(saved, cache);
    const restored = await Promise.all([
      session.restore(), this.conversations.restore(), this.contacts.restore(),
      this.outbox.restore(), this.drafts.restore(), this.sync.restore(),
    ]);
    // Read first, shown together: the first render has every list.
    batch(() => { for (const apply of restored) apply(); });
    session.open({
      // A stalled connection is still the same session: it has lost no events yet.
      onState: (s) => { session.conn.value = s; if (s !== "online" && s !== "stalled") session.synced.value = false; },
      onAuthOk: (user) => { session.me.value = user; session.persistSoon(); void this.sync.catchUp(); },
      onEvent: (e) => this.sync.onEvent(e),
      onRevoked: () => this.onRevoked(),
    });
  }

  /** Stops the connection and forgets everything, in memory and in the cache. */
  async wipe(): Promise<void> {
    this.timelines.reset();
    this.members.reset();
    this.sync.reset();
    batch(() => {
      this.session.end();
      this.conversations.reset();
      this.outbox.reset();
      this.contacts.reset();
      this.typing.reset();
      this.drafts.reset();
    });
    await this.session.cache.destroy();
  }
}
