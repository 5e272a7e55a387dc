// The IndexedDB cache: session, lists and message history, so a reload is instant and
// the app opens read-only while offline. Everything in it is deleted at logout.
import { openDB, type IDBPDatabase } from "idb";
import type { Message } from "../generated/protocol";
import type { PendingSend } from "./timeline";

export const DB_NAME = "natter";

export interface Cache {
  get<T>(key: string): Promise<T | undefined>;
  put(key: string, value: unknown): Promise<void>;
  putMessages(messages: readonly Message[]): Promise<void>;
  /** Up to `limit` messages of a conversation below `before` (all when absent), ascending. */
  messages(conversationId: number, limit: number, before?: number): Promise<Message[]>;
  deleteConversation(conversationId: number): Promise<void>;
  putPending(p: PendingSend): Promise<void>;
  deletePending(clientMsgId: string): Promise<void>;
  allPending(): Promise<PendingSend[]>;
  /** Closes and deletes the whole database. */
  destroy(): Promise<void>;
}

export async function openCache(): Promise<Cache> {
  const db: IDBPDatabase = await openDB(DB_NAME, 1, {
    upgrade(d) {
      d.createObjectStore("kv");
      d.createObjectStore("messages", { keyPath: ["conversation_id", "seq"] });
      d.createObjectStore("outbox", { keyPath: "client_msg_id" });
    },
  });
  return {
    async get<T>(key: string) { return (await db.get("kv", key)) as T | undefined; },
    async put(key, value) { await db.put("kv", value, key); },
    async putMessages(messages) {
      if (messages.length === 0) return;
      const tx = db.transaction("messages", "readwrite");
      for (const m of messages) void tx.store.put(m);
      await tx.done;
    },
    async messages(conversationId, limit, before) {
      const upper = before === undefined ? [conversationId, Number.MAX_SAFE_INTEGER] : [conversationId, before - 1];
      const range = IDBKeyRange.bound([conversationId, 0], upper);
      const out: Message[] = [];
      let cursor = await db.transaction("messages").store.openCursor(range, "prev");
      while (cursor && out.length < limit) {
        out.push(cursor.value as Message);
        cursor = await cursor.continue();
      }
      return out.reverse();
    },
    async deleteConversation(conversationId) {
      await db.delete("messages", IDBKeyRange.bound([conversationId, 0], [conversationId, Number.MAX_SAFE_INTEGER]));
    },
    async putPending(p) { await db.put("outbox", p); },
    async deletePending(id) { await db.delete("outbox", id); },
    async allPending() { return (await db.getAll("outbox")) as PendingSend[]; },
    async destroy() {
      db.close();
      await new Promise<void>((resolve) => {
        const req = indexedDB.deleteDatabase(DB_NAME);
        req.onsuccess = req.onerror = req.onblocked = () => resolve();
      });
    },
  };
}

/** An in-memory cache with the same contract, for tests and for browsers without IndexedDB. */
export function memoryCache(): Cache {
  const kv = new Map<string, unknown>();
  const msgs = new Map<string, Message>();
  const outbox = new Map<string, PendingSend>();
  return {
    async get<T>(key: string) { return structuredClone(kv.get(key)) as T | undefined; },
    async put(key, value) { kv.set(key, structuredClone(value)); },
    async putMessages(messages) { for (const m of messages) msgs.set(`${m.conversation_id}:${m.seq}`, m); },
    async messages(cid, limit, before) {
      const all = [...msgs.values()].filter((m) => m.conversation_id === cid && (before === undefined || m.seq < before));
      all.sort((a, b) => a.seq - b.seq);
      return all.slice(Math.max(0, all.length - limit));
    },
    async deleteConversation(cid) { for (const [k, m] of msgs) if (m.conversation_id === cid) msgs.delete(k); },
    async putPending(p) { outbox.set(p.client_msg_id, p); },
    async deletePending(id) { outbox.delete(id); },
    async allPending() { return [...outbox.values()]; },
    async destroy() { kv.clear(); msgs.clear(); outbox.clear(); },
  };
}

/** Where a session's cache lives on this device; the root asks it at login and on reload. */
export interface DeviceStorage {
  /** Whether a cache may exist (so a reload without one never creates the database). */
  exists(): Promise<boolean>;
  open(): Promise<Cache>;
}

/** IndexedDB, or memory where the browser refuses it (private modes). */
export const browserStorage: DeviceStorage = {
  async exists() {
    try {
      return (await indexedDB.databases()).some((d) => d.name === DB_NAME);
    } catch {
      return true; // databases() unsupported: open and look.
    }
  },
  async open() {
    try { return await openCache(); } catch { return memoryCache(); }
  },
};
