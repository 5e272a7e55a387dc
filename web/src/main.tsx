import { effect } from "@preact/signals";
import { render } from "preact";
import { lang, t } from "./i18n";
import { Api } from "./net/api";
import { Socket } from "./net/socket";
import { ChatStore } from "./state/store";
import { Auth } from "./ui/Auth";
import { Shell } from "./ui/Shell";
import { booting, loadPrefs, loggedIn, notice, parseHash, route, setStore, theme } from "./vm/app";
import { logOut, resume } from "./vm/session";
import "./styles.css";

function App() {
  if (booting.value) return <div class="boot" aria-busy="true" />;
  return loggedIn.value ? <Shell /> : <Auth />;
}

function wsUrl(): string {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/api/v1/ws`;
}

const api = new Api();
const chat = new ChatStore(api, (token, hooks) => new Socket(wsUrl(), token, hooks));
setStore(chat);
chat.onRevoked = () => { void logOut(false).then(() => { notice.value = t("noticeRevoked"); }); };
chat.onRemoved = (name) => { notice.value = t("noticeRemoved", { name }); };

loadPrefs();
route.value = parseHash(location.hash);
addEventListener("hashchange", () => { route.value = parseHash(location.hash); });
addEventListener("online", () => chat.session.reconnectNow());
addEventListener("offline", () => chat.session.checkConnection());

effect(() => {
  document.documentElement.lang = lang.value;
  const th = theme.value;
  document.documentElement.dataset["theme"] = th === "system"
    ? (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light") : th;
});
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => { theme.value = theme.peek(); });

// Title badge: the number of unread messages, while logged in.
effect(() => {
  const n = loggedIn.value ? chat.conversations.unreadTotal.value : 0;
  document.title = n > 0 ? `(${n > 99 ? "99+" : n}) ${t("appName")}` : t("appName");
});

// Keep the active conversation in the store, for the read logic.
effect(() => {
  const id = route.value.chatId;
  if (id === null) chat.conversations.activeId.value = null;
});

// Desktop notifications for new messages while the tab is in the background.
chat.onIncoming = (m) => {
  if (document.visibilityState === "visible") return;
  if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
  if (m.content.kind !== "text") return;
  const name = chat.contacts.nameOf(m.sender_id);
  try {
    const n = new Notification(t("newMessageFrom", { name }), { body: m.content.text.slice(0, 140), tag: `natter-${m.conversation_id}` });
    n.onclick = () => { focus(); location.hash = `#/chat/${m.conversation_id}`; n.close(); };
  } catch {
    // Some platforms only allow notifications from a service worker: skip.
  }
};

render(<App />, document.getElementById("app")!);

void resume().catch(() => false).finally(() => { booting.value = false; });

// The service worker makes the app installable and opens it offline. Under Trusted Types,
// its URL must come from a policy.
if ("serviceWorker" in navigator && location.protocol !== "file:") {
  const tt = (globalThis as { trustedTypes?: { createPolicy(n: string, p: { createScriptURL(u: string): string }): { createScriptURL(u: string): unknown } } }).trustedTypes;
  const url = tt
    ? tt.createPolicy("natter-sw", { createScriptURL: (u) => { if (u !== "/sw.js") throw new TypeError("unexpected script URL"); return u; } }).createScriptURL("/sw.js")
    : "/sw.js";
  addEventListener("load", () => {
    navigator.serviceWorker.register(url as string, { scope: "/" }).catch(() => {});
  });
}
