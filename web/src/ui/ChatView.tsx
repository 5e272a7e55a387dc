import { memo } from "preact/compat";
import { useEffect, useRef, useState } from "preact/hooks";
import type { ConversationSummary } from "../generated/protocol";
import { t } from "../i18n";
import { store } from "./app";
import { conversationTitle } from "./ChatList";
import { Avatar, Icon } from "./common";
import { formatMoment } from "./format";
import { EmojiPicker } from "./EmojiPicker";
import { InfoPanel } from "./InfoPanel";
import { textBudget, TEXT_MAX_BYTES } from "./timeline/text";
import { Timeline } from "./timeline/Timeline";

export function ChatView(props: { id: number; info: boolean }) {
  const s = store();
  const { id } = props;
  const conv = s.conversations.value.find((c) => c.id === id);

  useEffect(() => {
    s.activeId.value = id;
    const c = s.conversations.value.find((x) => x.id === id);
    void s.ensureLoaded(id).then(() => (c ? s.catchUpConversation(id, c.last_seq) : undefined)).catch(() => {});
    void s.loadMembers(id);
    return () => { if (s.activeId.value === id) s.activeId.value = null; };
  }, [id]);

  if (!conv) {
    return <div class="placeholder"><p>{t("err_not_found")}</p><a href="#/">{t("back")}</a></div>;
  }
  return (
    <div class={`chat ${props.info ? "with-info" : ""}`}>
      <section class="chat-pane" aria-label={conversationTitle(conv)}>
        <ChatHeader conv={conv} />
        <Timeline id={conv.id} group={conv.kind === "group"} readSeq={conv.read_seq} />
        <Composer id={conv.id} />
      </section>
      {props.info && <InfoPanel conv={conv} />}
    </div>
  );
}

function ChatHeader({ conv }: { conv: ConversationSummary }) {
  const s = store();
  const title = conversationTitle(conv);
  const friend = conv.kind === "direct" && conv.peer ? s.friends.value.find((f) => f.user.id === conv.peer!.id) : undefined;
  // Unknown while disconnected: the last presence heard may be stale.
  const online = s.presenceOf(friend);
  let sub: string;
  if (conv.kind === "group") sub = t("members", { n: conv.member_count });
  else if (friend && online === null) sub = "";
  else if (online) sub = t("online");
  else if (friend?.last_seen_at) sub = t("lastSeen", { time: formatMoment(friend.last_seen_at) });
  else sub = t("offline");
  return (
    <header class="chat-head">
      <a class="icon-btn back" href="#/" aria-label={t("back")}><Icon name="back" /></a>
      <Avatar name={title} seed={conv.kind === "direct" ? conv.peer?.id : `g${conv.id}`} online={online} />
      <div class="chat-title">
        <h2>{title}</h2>
        <p class={`chat-sub ${online ? "is-online" : ""}`} data-presence={friend ? (online === null ? "unknown" : online ? "online" : "offline") : undefined}>{sub}</p>
      </div>
      <a class="icon-btn" href={`#/chat/${conv.id}/info`} aria-label={conv.kind === "group" ? t("groupInfo") : t("chatInfo")}>
        <Icon name="info" />
      </a>
    </header>
  );
}

const fmtNumber = (n: number) => n.toLocaleString();

/** The message box. Its own state: typing re-renders it alone, never the timeline. */
const Composer = memo(function Composer({ id }: { id: number }) {
  const s = store();
  const [text, setText] = useState(() => s.drafts.peek()[id] ?? "");
  const [picker, setPicker] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);
  const offline = s.conn.value === "offline";
  const body = text.trim();
  const budget = textBudget(body);

  useEffect(() => { area.current?.focus(); }, [id]);

  const send = () => {
    if (!body || offline || budget.over) return;
    s.sendText(id, body);
    setText("");
    s.setDraft(id, "");
    area.current?.focus();
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  };
  const insert = (emoji: string) => {
    const el = area.current;
    const start = el?.selectionStart ?? text.length;
    const end = el?.selectionEnd ?? text.length;
    const next = text.slice(0, start) + emoji + text.slice(end);
    setText(next);
    s.setDraft(id, next);
    setPicker(false);
    requestAnimationFrame(() => {
      if (!el) return;
      el.focus();
      el.selectionStart = el.selectionEnd = start + emoji.length;
    });
  };
  const rows = Math.min(6, Math.max(1, text.split("\n").length));
  const limitParams = { n: fmtNumber(budget.bytes), max: fmtNumber(TEXT_MAX_BYTES) };
  return (
    <form class="composer" onSubmit={(e) => { e.preventDefault(); send(); }}>
      {offline && <p class="readonly muted" role="status">{t("readOnly")}</p>}
      {budget.show && (
        <p id={`limit-${id}`} class={`composer-limit${budget.over ? " over" : ""}`} data-testid="composer-limit"
          data-over={budget.over ? "true" : "false"} role={budget.over ? "alert" : "status"}>
          {budget.over ? t("textTooLong", limitParams) : t("textLimit", limitParams)}
        </p>
      )}
      <div class="composer-row">
        <div class="emoji-wrap">
          <button type="button" class="icon-btn" aria-label={t("emoji")} aria-expanded={picker}
            onClick={() => setPicker(!picker)}><Icon name="emoji" /></button>
          {picker && <EmojiPicker onPick={insert} onClose={() => { setPicker(false); area.current?.focus(); }} />}
        </div>
        <textarea ref={area} class="composer-input" rows={rows} placeholder={t("messagePlaceholder")}
          aria-label={t("messagePlaceholder")} value={text} aria-invalid={budget.over ? "true" : undefined}
          aria-describedby={budget.show ? `limit-${id}` : undefined}
          onInput={(e) => {
            const v = e.currentTarget.value;
            setText(v);
            s.setDraft(id, v);
            if (v) s.typingNow(id);
          }}
          onKeyDown={onKey} />
        <button type="submit" class="icon-btn send" aria-label={t("send")} disabled={!body || offline || budget.over}>
          <Icon name="send" />
        </button>
      </div>
    </form>
  );
});
