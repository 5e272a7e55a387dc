import { useMemo } from "preact/hooks";
import type { ConversationSummary, Message } from "../generated/protocol";
import { t } from "../i18n";
import { route, store } from "../vm/app";
import { ChatListViewModel } from "../vm/chatList";
import type { Names } from "../vm/names";
import { Avatar, formatListTime } from "./common";
import { systemText } from "./system";

/** The last message under a chat's title, with who wrote it where that is not obvious. */
export function preview(m: Message | null, c: ConversationSummary, names: Names): string {
  if (!m) return "";
  switch (m.content.kind) {
    case "text": {
      const who = m.sender_id === names.myId ? `${t("you")}: ` : c.kind === "group" ? `${names.nameOf(m.sender_id)}: ` : "";
      return who + m.content.text.replace(/\s+/g, " ");
    }
    case "system": return systemText(m.content.event, names);
    default: return t("unsupported");
  }
}

export function ChatList() {
  const vm = useMemo(() => new ChatListViewModel(store()), []);
  const rows = vm.rows.value;
  const active = route.value.chatId;
  return (
    <div class="chatlist">
      <div class="search-row">
        <input type="search" class="search" placeholder={t("filterChats")} aria-label={t("filterChats")}
          value={vm.filter.value} onInput={(e) => vm.setFilter(e.currentTarget.value)} />
      </div>
      {rows.length === 0 && <p class="empty muted">{t("noChats")}</p>}
      <ul class="conv-list" aria-label={t("chats")}>
        {rows.map(({ conv: c, title, avatarSeed, online }) => (
          <li key={c.id}>
            <a href={`#/chat/${c.id}`} class={`conv ${active === c.id ? "active" : ""}`} data-conv={c.id}
              aria-current={active === c.id ? "true" : undefined}>
              <Avatar name={title} seed={avatarSeed} online={online} />
              <span class="conv-main">
                <span class="conv-top">
                  <span class="conv-name">{title}</span>
                  <span class="conv-time">{c.last_message ? formatListTime(c.last_message.sent_at) : ""}</span>
                </span>
                <span class="conv-bottom">
                  <span class="conv-preview">{preview(c.last_message, c, vm)}</span>
                  {c.unread > 0 && <span class="badge" aria-label={`${c.unread}`}>{c.unread > 99 ? "99+" : c.unread}</span>}
                </span>
              </span>
            </a>
          </li>
        ))}
      </ul>
    </div>
  );
}
