import { useState } from "preact/hooks";
import type { ConversationSummary, Message } from "../generated/protocol";
import { t } from "../i18n";
import { matchesFilter } from "../state/timeline";
import { route, store } from "./app";
import { Avatar, formatListTime } from "./common";
import { systemText } from "./system";

export function preview(m: Message | null, c: ConversationSummary): string {
  if (!m) return "";
  const s = store();
  switch (m.content.kind) {
    case "text": {
      const who = m.sender_id === s.myId ? `${t("you")}: ` : c.kind === "group" ? `${s.nameOf(m.sender_id)}: ` : "";
      return who + m.content.text.replace(/\s+/g, " ");
    }
    case "system": return systemText(m.content.event);
    default: return t("unsupported");
  }
}

/** Title of a conversation: my remark for the peer, else the server's name. */
export function conversationTitle(c: ConversationSummary): string {
  if (c.kind === "direct" && c.peer) {
    const f = store().friends.value.find((x) => x.user.id === c.peer!.id);
    if (f?.remark) return f.remark;
    return f?.user.display_name ?? c.name;
  }
  return c.name;
}

export function ChatList() {
  const s = store();
  const [filter, setFilter] = useState("");
  const friends = s.friends.value;
  const list = s.conversations.value.filter((c) =>
    matchesFilter(conversationTitle(c), [c.name, c.peer?.username], filter));
  const active = route.value.chatId;
  return (
    <div class="chatlist">
      <div class="search-row">
        <input type="search" class="search" placeholder={t("filterChats")} aria-label={t("filterChats")}
          value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
      </div>
      {list.length === 0 && <p class="empty muted">{t("noChats")}</p>}
      <ul class="conv-list" aria-label={t("chats")}>
        {list.map((c) => {
          const title = conversationTitle(c);
          const online = c.kind === "direct" && c.peer ? store().presenceOf(friends.find((f) => f.user.id === c.peer!.id)) : null;
          return (
            <li key={c.id}>
              <a href={`#/chat/${c.id}`} class={`conv ${active === c.id ? "active" : ""}`} data-conv={c.id}
                aria-current={active === c.id ? "true" : undefined}>
                <Avatar name={title} seed={c.kind === "direct" ? c.peer?.id : `g${c.id}`} online={online} />
                <span class="conv-main">
                  <span class="conv-top">
                    <span class="conv-name">{title}</span>
                    <span class="conv-time">{c.last_message ? formatListTime(c.last_message.sent_at) : ""}</span>
                  </span>
                  <span class="conv-bottom">
                    <span class="conv-preview">{preview(c.last_message, c)}</span>
                    {c.unread > 0 && <span class="badge" aria-label={`${c.unread}`}>{c.unread > 99 ? "99+" : c.unread}</span>}
                  </span>
                </span>
              </a>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
