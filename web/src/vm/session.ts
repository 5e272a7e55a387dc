// Logging in and out, as the app sees it: the state layer does the calls and
// the wiping; this keeps the screen, the notice and the device's preferences in step.
import { deviceName } from "../state/text";
import { go, loggedIn, notice, savePrefs, store } from "./app";

/** Resumes a saved session, if the cache holds one. Never creates the database otherwise. */
export async function resume(): Promise<boolean> {
  const resumed = await store().resume();
  if (resumed) loggedIn.value = true;
  return resumed;
}

/** Creates the account; the caller logs in next. */
export function register(username: string, password: string, displayName?: string): Promise<void> {
  return store().register(username, password, displayName);
}

export async function logIn(username: string, password: string): Promise<void> {
  await store().logIn(username, password, deviceName(navigator.userAgent));
  notice.value = null;
  loggedIn.value = true;
}

/** Ends the session on the server (best effort) and deletes everything stored locally. */
export async function logOut(serverToo = true): Promise<void> {
  await store().logOut(serverToo);
  try { localStorage.clear(); sessionStorage.clear(); } catch { /* nothing stored */ }
  // Language and theme belong to the device, not the account: keep them.
  savePrefs();
  loggedIn.value = false;
  go("#/");
}
