import { useMemo } from "preact/hooks";
import { t } from "../i18n";
import { notice, route, store } from "../vm/app";
import { ShellViewModel } from "../vm/shell";
import { Avatar, Icon } from "./common";
import { ChatList } from "./ChatList";
import { ChatView } from "./ChatView";
import { Contacts } from "./Contacts";
import { Settings } from "./Settings";

export function ConnBadge({ vm }: { vm: ShellViewModel }) {
  const s = vm.conn.value;
  const text = s === "online" ? t("connOnline") : s === "connecting" ? t("connConnecting")
    : s === "stalled" ? t("connStalled") : s === "revoked" ? t("connRevoked") : t("connOffline");
  return (
    <div class={`conn conn-${s}`} data-state={s}>
      <span role="status" aria-live="polite" class="conn-status" title={text}>
        <span class="conn-dot" aria-hidden="true" /> <span class="conn-text">{text}</span>
      </span>
      {vm.canRetry.value && (
        <button type="button" class="conn-retry" onClick={() => vm.reconnect()}>{t("connRetry")}</button>
      )}
    </div>
  );
}

export function Shell() {
  const vm = useMemo(() => new ShellViewModel(store()), []);
  const r = route.value;
  const me = vm.me.value;
  const unread = vm.unread.value;
  const requests = vm.incomingRequests.value;
  const tabs = [
    { id: "chats", hash: "#/", icon: "chat", label: t("chats"), badge: unread },
    { id: "contacts", hash: "#/contacts", icon: "contacts", label: t("contacts"), badge: requests },
    { id: "settings", hash: "#/settings", icon: "settings", label: t("settings"), badge: 0 },
  ] as const;
  return (
    <div class="shell" data-pane={r.chatId !== null ? "chat" : "list"}>
      <nav class="rail" aria-label={t("appName")}>
        <span class="rail-me">{me && <Avatar name={me.display_name} seed={me.id} size="s" />}</span>
        {tabs.map((tab) => (
          <a key={tab.id} href={tab.hash} class={`rail-tab ${r.tab === tab.id ? "active" : ""}`}
            aria-current={r.tab === tab.id ? "page" : undefined} data-tab={tab.id}>
            <Icon name={tab.icon} />
            <span class="rail-label">{tab.label}</span>
            {tab.badge > 0 && <span class="badge" aria-label={`${tab.badge}`}>{tab.badge > 99 ? "99+" : tab.badge}</span>}
          </a>
        ))}
      </nav>
      {/* One main landmark in every layout: the phone shows one pane of it at a time. */}
      <main class="panes">
        <section class="sidebar" aria-labelledby="h-pane">
          <header class="sidebar-head">
            <h1 id="h-pane" class="sidebar-title">{r.tab === "chats" ? t("chats") : r.tab === "contacts" ? t("contacts") : t("settings")}</h1>
            <ConnBadge vm={vm} />
          </header>
          {notice.value && (
            <p class="notice" role="alert" data-notice="shell">
              <span>{notice.value}</span>
              <button type="button" class="icon-btn" aria-label={t("close")} onClick={() => { notice.value = null; }}><Icon name="close" /></button>
            </p>
          )}
          <div class="sidebar-body">
            {r.tab === "chats" && <ChatList />}
            {r.tab === "contacts" && <Contacts />}
            {r.tab === "settings" && <Settings />}
          </div>
        </section>
        <section class="main" aria-label={t("conversation")}>
          {/* The phone hides the list and its heading while a chat is open. */}
          {r.chatId !== null && <h1 class="sr-only pane-heading">{t("appName")}</h1>}
          {r.chatId !== null ? <ChatView key={r.chatId} id={r.chatId} info={r.info} /> : (
            <div class="placeholder"><img src="/icons/icon.svg" alt="" width="72" height="72" /><p>{t("selectChat")}</p></div>
          )}
        </section>
      </main>
    </div>
  );
}
