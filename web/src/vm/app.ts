// App-level view state shared by the screens: the store, the route, the
// device's preferences, and the notice the next screen shows. The screens'
// own view models are built on the store given here.
import { signal } from "@preact/signals";
import { lang, detectLang, type Lang } from "../i18n";
import type { ChatStore } from "../state/store";

export type Theme = "system" | "light" | "dark";
export type Tab = "chats" | "contacts" | "settings";
export interface Route { tab: Tab; chatId: number | null; info: boolean }

export const theme = signal<Theme>("system");
export const route = signal<Route>({ tab: "chats", chatId: null, info: false });
export const loggedIn = signal(false);
export const booting = signal(true);
/** A sentence the next screen must show once: why the user was logged out, or removed. */
export const notice = signal<string | null>(null);

let storeRef: ChatStore | null = null;
export function setStore(s: ChatStore): void { storeRef = s; }
export function store(): ChatStore {
  if (!storeRef) throw new Error("store not ready");
  return storeRef;
}

export function parseHash(hash: string): Route {
  const m = hash.match(/^#\/chat\/(\d+)(\/info)?$/);
  if (m) return { tab: "chats", chatId: Number(m[1]), info: !!m[2] };
  if (hash === "#/contacts") return { tab: "contacts", chatId: null, info: false };
  if (hash === "#/settings") return { tab: "settings", chatId: null, info: false };
  return { tab: "chats", chatId: null, info: false };
}

export function go(hash: string): void {
  if (location.hash !== hash) location.hash = hash;
  else route.value = parseHash(hash);
}

export const openChat = (id: number) => go(`#/chat/${id}`);

const PREFS = "natter.prefs";

export function loadPrefs(): void {
  let p: { lang?: Lang; theme?: Theme } = {};
  try { p = JSON.parse(localStorage.getItem(PREFS) ?? "{}") as typeof p; } catch { /* defaults */ }
  lang.value = p.lang === "en" || p.lang === "zh-CN" ? p.lang : detectLang();
  theme.value = p.theme === "light" || p.theme === "dark" ? p.theme : "system";
}

export function savePrefs(): void {
  try { localStorage.setItem(PREFS, JSON.stringify({ lang: lang.value, theme: theme.value })); } catch { /* private mode */ }
}
