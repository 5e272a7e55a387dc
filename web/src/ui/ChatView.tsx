import { memo } from "preact/compat";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { t } from "../i18n";
import { store } from "../vm/app";
import { ChatViewModel, type ChatSubtitle } from "../vm/chat";
import type { ComposerViewModel } from "../vm/composer";
import { TEXT_MAX_BYTES } from "../vm/text";
import { Avatar, Icon } from "./common";
import { formatMoment } from "./format";
import { EmojiPicker } from "./EmojiPicker";
import { InfoPanel } from "./InfoPanel";
import { Timeline } from "./timeline/Timeline";

export function ChatView(props: { id: number; info: boolean }) {
  const vm = useMemo(() => new ChatViewModel(store(), props.id), [props.id]);
  useEffect(() => vm.open(), [vm]);

  const conv = vm.conversation.value;
  if (!conv) {
    return <div class="placeholder"><p>{t("err_not_found")}</p><a href="#/">{t("back")}</a></div>;
  }
  return (
    <div class={`chat ${props.info ? "with-info" : ""}`}>
      <section class="chat-pane" aria-label={vm.title.value}>
        <ChatHeader vm={vm} />
        <Timeline vm={vm.timeline} group={conv.kind === "group"} readSeq={conv.read_seq} />
        <Composer vm={vm.composer} />
      </section>
      {props.info && <InfoPanel conv={conv} />}
    </div>
  );
}

function subtitleText(sub: ChatSubtitle): string {
  switch (sub.kind) {
    case "members": return t("members", { n: sub.n });
    case "unknown": return "";
    case "online": return t("online");
    case "lastSeen": return t("lastSeen", { time: formatMoment(sub.at) });
    case "offline": return t("offline");
  }
}

function ChatHeader({ vm }: { vm: ChatViewModel }) {
  const conv = vm.conversation.value!;
  const title = vm.title.value;
  const friend = vm.friend.value;
  // Unknown while disconnected: the last presence heard may be stale.
  const online = vm.online.value;
  return (
    <header class="chat-head">
      <a class="icon-btn back" href="#/" aria-label={t("back")}><Icon name="back" /></a>
      <Avatar name={title} seed={vm.avatarSeed.value} online={online} />
      <div class="chat-title">
        <h2>{title}</h2>
        <p class={`chat-sub ${online ? "is-online" : ""}`} data-presence={friend ? (online === null ? "unknown" : online ? "online" : "offline") : undefined}>{subtitleText(vm.subtitle.value)}</p>
      </div>
      <a class="icon-btn" href={`#/chat/${conv.id}/info`} aria-label={conv.kind === "group" ? t("groupInfo") : t("chatInfo")}>
        <Icon name="info" />
      </a>
    </header>
  );
}

const fmtNumber = (n: number) => n.toLocaleString();

/** The message box. Its own state: typing re-renders it alone, never the timeline. */
const Composer = memo(function Composer({ vm }: { vm: ComposerViewModel }) {
  const [picker, setPicker] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);
  const text = vm.text.value;
  const offline = vm.offline.value;
  const budget = vm.budget.value;
  const id = vm.id;

  useEffect(() => { area.current?.focus(); }, [id]);

  const send = () => {
    if (vm.send()) area.current?.focus();
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  };
  const insert = (emoji: string) => {
    const el = area.current;
    const caret = vm.insertAt(emoji, el?.selectionStart ?? text.length, el?.selectionEnd ?? text.length);
    setPicker(false);
    requestAnimationFrame(() => {
      if (!el) return;
      el.focus();
      el.selectionStart = el.selectionEnd = caret;
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
          onInput={(e) => vm.input(e.currentTarget.value)}
          onKeyDown={onKey} />
        <button type="submit" class="icon-btn send" aria-label={t("send")} disabled={!vm.canSend.value}>
          <Icon name="send" />
        </button>
      </div>
    </form>
  );
});
