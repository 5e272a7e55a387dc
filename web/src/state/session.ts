// One logged-in session: who the user is, the connection, this device's cache,
// and the one timer through which every domain persists its part. The bottom
// of the state layer: it knows no domain, and every domain is given it.
import { signal } from "@preact/signals";
import type { ClientRequest, UserProfile } from "../generated/protocol";
import type { Api } from "../net/api";
import type { ConnState, SocketHooks } from "../net/socket";
import { memoryCache, type Cache } from "./cache";

/** What the cache keeps to resume a session after a reload. */
export interface SavedSession { token: string; device_id: number; user: UserProfile }

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

/** Writes wait this long, so a burst of events costs one write of each list. */
const PERSIST_DELAY_MS = 250;

export class Session {
  readonly me = signal<UserProfile | null>(null);
  readonly conn = signal<ConnState>("offline");
  /** Set when a sync or catch-up has completed since the last (re)connect. */
  readonly synced = signal(false);
  /** This device's cache; replaced at every start. */
  cache: Cache = memoryCache();
  /** The connection, while started; the domains send through it. */
  transport: Transport | null = null;
  /** Set from wipe to the next start: late replies and timers must not write any more. */
  stopped = false;
  private saved: SavedSession | null = null;
  private readonly persisted = new Map<string, () => unknown>();
  private persistTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(readonly api: Api, private readonly connect: Connect) {
    this.persist("me", () => this.me.value);
  }

  get myId(): number { return this.me.value?.id ?? 0; }
  get token(): string | null { return this.saved?.token ?? null; }

  /** A cache key that a domain keeps current: every `persistSoon` writes what `read` returns. */
  persist(key: string, read: () => unknown): void { this.persisted.set(key, read); }

  persistSoon(): void {
    if (this.persistTimer || this.stopped) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = null;
      if (this.stopped) return;
      void Promise.all([...this.persisted].map(([key, read]) => this.cache.put(key, read()))).catch(() => {});
    }, PERSIST_DELAY_MS);
  }

  /** Takes the session on: its token for every call, its user at once, saved for the next reload. */
  async begin(saved: SavedSession, cache: Cache): Promise<void> {
    this.cache = cache;
    this.saved = saved;
    this.stopped = false;
    this.api.token = saved.token;
    this.me.value = saved.user;
    await cache.put("session", saved);
  }

  /** The profile the cache held, which may be newer than the saved session's. */
  async restore(): Promise<() => void> {
    const me = await this.cache.get<UserProfile>("me");
    return () => { if (me) this.me.value = me; };
  }

  /** Connects, unless the session was ended meanwhile. */
  open(hooks: SocketHooks): void {
    if (this.stopped || !this.saved) return;
    this.transport = this.connect(this.saved.token, hooks);
    this.transport.start();
  }

  /** Stops the connection and the timer and forgets the credentials; the cache is left to the caller. */
  end(): void {
    this.stopped = true;
    this.transport?.stop();
    this.transport = null;
    if (this.persistTimer) clearTimeout(this.persistTimer);
    this.persistTimer = null;
    this.saved = null;
    this.api.token = null;
    this.me.value = null;
    this.conn.value = "offline";
  }

  reconnectNow(): void { this.transport?.kick(); }

  /** The browser says the network went away: find out now rather than at the next ping. */
  checkConnection(): void { this.transport?.probe(); }
}
