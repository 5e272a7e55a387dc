// Logging in and out: where the session begins and where every trace of it is removed.
import { DB_NAME, openCache, memoryCache, type Cache } from "../state/cache";
import type { Session } from "../state/store";
import { deviceName } from "../state/text";
import { go, loggedIn, notice, savePrefs, store } from "./app";

async function cache(): Promise<Cache> {
  try { return await openCache(); } catch { return memoryCache(); }
}

/** Resumes a saved session, if the cache holds one. Never creates the database otherwise. */
export async function resume(): Promise<boolean> {
  try {
    const dbs = await indexedDB.databases();
    if (!dbs.some((d) => d.name === DB_NAME)) return false;
  } catch {
    // databases() unsupported: fall through and open.
  }
  const c = await cache();
  const s = await c.get<Session>("session");
  if (!s) { await c.destroy(); return false; }
  loggedIn.value = true;
  await store().start(s, c);
  return true;
}

/** Creates the account; the caller logs in next. */
export async function register(username: string, password: string, displayName?: string): Promise<void> {
  await store().api.register(username, password, displayName);
}

export async function logIn(username: string, password: string): Promise<void> {
  const r = await store().api.login(username, password, deviceName(navigator.userAgent));
  const c = await cache();
  notice.value = null;
  loggedIn.value = true;
  await store().start({ token: r.token, device_id: r.device_id, user: r.user }, c);
}

/** Ends the session on the server (best effort) and deletes everything stored locally. */
export async function logOut(serverToo = true): Promise<void> {
  const s = store();
  if (serverToo && s.token) await s.api.logout().catch(() => {});
  await s.wipe();
  try { localStorage.clear(); sessionStorage.clear(); } catch { /* nothing stored */ }
  // Language and theme belong to the device, not the account: keep them.
  savePrefs();
  loggedIn.value = false;
  go("#/");
}
