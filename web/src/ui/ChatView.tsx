import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import type { ConversationSummary, Member, Message } from "../generated/protocol";
import { errorText, t } from "../i18n";
import { deliveryState, firstUnreadIndex, timelineItems, type PendingSend, type TimelineItem } from "../state/timeline";
import { store } from "./app";
import { conversationTitle } from "./ChatList";
import { Avatar, dayKey, formatDay, formatListTime, formatTime, Icon, RichText } from "./common";
import { EmojiPicker } from "./EmojiPicker";
import { InfoPanel } from "./InfoPanel";
import { systemText } from "./system";

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
        <Timeline conv={conv} />
        <Composer conv={conv} />
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
  else if (friend?.last_seen_at) sub = t("lastSeen", { time: formatListTime(friend.last_seen_at) + " " + formatTime(friend.last_seen_at) });
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

function isAtBottom(el: HTMLElement): boolean {
  return el.scrollHeight - el.scrollTop - el.clientHeight < 48;
}

function Timeline({ conv }: { conv: ConversationSummary }) {
  const s = store();
  const id = conv.id;
  const myId = s.myId;
  const tl = s.timeline(id).value;
  const pending = s.pending.value.filter((p) => p.conversation_id === id);
  const members = s.members(id).value ?? [];
  const items = useMemo(() => timelineItems(tl.messages, pending, myId), [tl.messages, pending.length, pending, myId]);
  const scroller = useRef<HTMLDivElement>(null);
  // The read position when the chat was opened: the "new messages" marker goes after it.
  const readAtOpen = useRef(conv.read_seq);
  const [atBottom, setAtBottom] = useState(true);
  const [newBelow, setNewBelow] = useState(0);
  const prev = useRef<{ first: string | null; last: string | null; height: number; top: number; count: number }>(
    { first: null, last: null, height: 0, top: 0, count: 0 });
  const initialScrollDone = useRef(false);
  const markerIndex = firstUnreadIndex(items, readAtOpen.current, myId);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const first = items[0]?.key ?? null;
    const last = items[items.length - 1]?.key ?? null;
    const p = prev.current;
    if (!initialScrollDone.current && items.length > 0 && tl.loaded) {
      initialScrollDone.current = true;
      const marker = el.querySelector(".new-marker") as HTMLElement | null;
      if (marker) el.scrollTop = marker.offsetTop - 60;
      else el.scrollTop = el.scrollHeight;
      setAtBottom(isAtBottom(el));
    } else if (p.first !== null && first !== p.first && items.some((it) => it.key === p.first)) {
      // Older messages were prepended: keep what the user sees where it was.
      el.scrollTop = p.top + (el.scrollHeight - p.height);
    } else if (last !== p.last && p.count > 0) {
      const lastItem = items[items.length - 1];
      const mine = lastItem?.kind === "pending" || (lastItem?.kind === "message" && lastItem.message.sender_id === myId);
      if (atBottom || mine) el.scrollTop = el.scrollHeight;
      else setNewBelow((n) => n + Math.max(1, items.length - p.count));
    }
    prev.current = { first, last, height: el.scrollHeight, top: el.scrollTop, count: items.length };
  }, [items, tl.loaded]);

  // Mark read while the newest messages are on screen and the tab is visible.
  useEffect(() => {
    const mark = () => {
      if (atBottom && document.visibilityState === "visible") s.markRead(id);
    };
    mark();
    document.addEventListener("visibilitychange", mark);
    return () => document.removeEventListener("visibilitychange", mark);
  }, [atBottom, items.length, id]);

  const onScroll = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    prev.current.top = el.scrollTop;
    prev.current.height = el.scrollHeight;
    const bottom = isAtBottom(el);
    setAtBottom(bottom);
    if (bottom) setNewBelow(0);
    if (el.scrollTop < 200) void s.loadOlder(id);
  }, [id]);

  const jump = () => {
    const el = scroller.current;
    if (el) el.scrollTop = el.scrollHeight;
    setNewBelow(0);
    setAtBottom(true);
  };

  const typers = Object.entries(s.typing.value[id] ?? {})
    .filter(([, until]) => until > Date.now()).map(([uid]) => s.nameOf(Number(uid)));

  let lastDay = "";
  return (
    <div class="timeline-wrap">
      <div class="timeline" ref={scroller} onScroll={onScroll} role="log" aria-live="polite" aria-relevant="additions"
        aria-label={t("chats")} tabIndex={0}>
        {tl.loaded && !tl.hasOlder && <p class="beginning muted">{t("beginning")}</p>}
        {tl.loadingOlder && <p class="loading muted">{t("loadingOlder")}</p>}
        {items.map((it, i) => {
          const at = it.kind === "message" ? it.message.sent_at : it.pending.created_at;
          const day = dayKey(at);
          const showDay = day !== lastDay;
          lastDay = day;
          const prevItem = i > 0 ? items[i - 1] : undefined;
          return (
            <div key={it.key} class="item">
              {showDay && <div class="day-sep" role="separator"><span>{formatDay(at)}</span></div>}
              {i === markerIndex && markerIndex > 0 && <div class="new-marker" role="separator"><span>{t("newMessages")}</span></div>}
              <Bubble item={it} conv={conv} members={members} prevItem={showDay ? undefined : prevItem} />
            </div>
          );
        })}
      </div>
      <div class="typing" aria-live="polite">
        {typers.length === 1 ? t("typing", { name: typers[0]! }) : typers.length > 1 ? t("typingMany") : ""}
      </div>
      {!atBottom && (
        <button type="button" class="jump" onClick={jump} aria-label={t("jumpToBottom")}>
          <Icon name="down" />{newBelow > 0 && <span class="badge">{newBelow}</span>}
        </button>
      )}
    </div>
  );
}

function senderOf(it: TimelineItem | undefined): number | null {
  if (!it) return null;
  if (it.kind === "pending") return store().myId;
  return it.message.content.kind === "system" ? null : it.message.sender_id;
}

function Bubble(props: { item: TimelineItem; conv: ConversationSummary; members: Member[]; prevItem: TimelineItem | undefined }) {
  const s = store();
  const { item, conv } = props;
  const myId = s.myId;
  if (item.kind === "message" && item.message.content.kind === "system") {
    return <div class="system-msg" data-seq={item.message.seq}><span>{systemText(item.message.content.event)}</span></div>;
  }
  const mine = item.kind === "pending" || item.message.sender_id === myId;
  const sender = item.kind === "pending" ? myId : item.message.sender_id;
  const continued = senderOf(props.prevItem) === sender;
  const showName = conv.kind === "group" && !mine && !continued;
  const name = s.nameOf(sender);
  return (
    <div class={`msg ${mine ? "mine" : "theirs"} ${continued ? "cont" : ""}`}
      data-seq={item.kind === "message" ? item.message.seq : undefined}
      data-state={item.kind === "pending" ? (item.pending.error ? "failed" : "pending") : "sent"}>
      {!mine && conv.kind === "group" && (continued ? <span class="avatar-gap" /> : <Avatar name={name} seed={sender} size="s" />)}
      <div class="bubble">
        {showName && <div class="sender">{name}</div>}
        <div class="text">
          {item.kind === "pending" ? <RichText text={item.pending.text} /> : <MessageBody m={item.message} />}
        </div>
        <div class="meta">
          <span class="time">{formatTime(item.kind === "message" ? item.message.sent_at : item.pending.created_at)}</span>
          {mine && <Status item={item} conv={conv} members={props.members} />}
        </div>
      </div>
    </div>
  );
}

function MessageBody({ m }: { m: Message }) {
  if (m.content.kind === "text") return <RichText text={m.content.text} />;
  return <span class="muted">{t("unsupported")}</span>;
}

function Status(props: { item: TimelineItem; conv: ConversationSummary; members: Member[] }) {
  const { item } = props;
  if (item.kind === "pending") return <PendingStatus p={item.pending} />;
  const d = deliveryState(item.message.seq, props.members, store().myId);
  const label = d.state === "read" ? (props.conv.kind === "group" ? t("readBy", { n: d.readBy }) : t("read")) : t("sent");
  return <span class={`status status-${d.state}`} data-status={d.state} title={label} aria-label={label}>{d.state === "read" ? (props.conv.kind === "group" ? `✓✓ ${d.readBy}` : "✓✓") : "✓"}</span>;
}

function PendingStatus({ p }: { p: PendingSend }) {
  const s = store();
  if (p.error) {
    return (
      <span class="status status-failed" data-status="failed">
        <span title={errorText({ code: p.error })}>{t("failed")}: {errorText({ code: p.error })}</span>{" "}
        <button type="button" class="btn-link" onClick={() => s.retrySend(p.client_msg_id)}>{t("retry")}</button>{" "}
        <button type="button" class="btn-link" onClick={() => s.discardSend(p.client_msg_id)}>{t("discard")}</button>
      </span>
    );
  }
  return <span class="status status-pending" data-status="pending" title={t("pending")} aria-label={t("pending")}>🕓</span>;
}

function Composer({ conv }: { conv: ConversationSummary }) {
  const s = store();
  const id = conv.id;
  const [text, setText] = useState(s.drafts.value[id] ?? "");
  const [picker, setPicker] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);
  const offline = s.conn.value === "offline";

  useEffect(() => { area.current?.focus(); }, [id]);

  const send = () => {
    const body = text.trim();
    if (!body || offline) return;
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
  return (
    <form class="composer" onSubmit={(e) => { e.preventDefault(); send(); }}>
      {offline && <p class="readonly muted" role="status">{t("readOnly")}</p>}
      <div class="composer-row">
        <div class="emoji-wrap">
          <button type="button" class="icon-btn" aria-label={t("emoji")} aria-expanded={picker}
            onClick={() => setPicker(!picker)}><Icon name="emoji" /></button>
          {picker && <EmojiPicker onPick={insert} onClose={() => { setPicker(false); area.current?.focus(); }} />}
        </div>
        <textarea ref={area} class="composer-input" rows={rows} placeholder={t("messagePlaceholder")}
          aria-label={t("messagePlaceholder")} value={text} maxLength={16000}
          onInput={(e) => {
            const v = e.currentTarget.value;
            setText(v);
            s.setDraft(id, v);
            if (v) s.typingNow(id);
          }}
          onKeyDown={onKey} />
        <button type="submit" class="icon-btn send" aria-label={t("send")} disabled={!text.trim() || offline}>
          <Icon name="send" />
        </button>
      </div>
    </form>
  );
}

