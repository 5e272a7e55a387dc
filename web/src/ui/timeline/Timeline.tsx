// The virtualized timeline: only the rows on screen (plus a small buffer) are in the
// DOM, whatever the number loaded. Older pages are prepended with virtua's `shift`,
// so the message in view stays where it is; the newest message is at the bottom.
import { memo } from "preact/compat";
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { Virtualizer, type VirtualizerHandle } from "virtua";
import { t, type MessageKey } from "../../i18n";
import { firstUnreadIndex, isPrepend, itemIndexOfSeq, type TimelineItem } from "../../state/timeline";
import { replyExcerpt } from "../../vm/text";
import type { TimelineViewModel } from "../../vm/timeline";
import { Icon } from "../common";
import { Row } from "./Row";

/** Height of the header above the rows ("beginning" / "loading"), fixed in the stylesheet. */
const HEAD_PX = 40;
/** Closer than this to the end counts as reading the newest messages. */
const BOTTOM_PX = 48;
/** Closer than this to the start loads the next older page. */
const LOAD_OLDER_PX = 600;

export const Timeline = memo(function Timeline(props: { vm: TimelineViewModel; group: boolean; readSeq: number }) {
  const { vm, group } = props;
  const id = vm.id;
  const myId = vm.myId;
  const tl = vm.state.value;
  const items = vm.items.value;
  // The read position when the chat was opened: the "new messages" marker goes after it.
  const readAtOpen = useRef(props.readSeq).current;
  const markerIndex = useMemo(() => firstUnreadIndex(items, readAtOpen, myId), [items, readAtOpen, myId]);

  const list = useRef<VirtualizerHandle>(null);
  const stick = useRef(true);
  const [atBottom, setAtBottom] = useState(true);
  const [newBelow, setNewBelow] = useState(0);
  const [flashSeq, setFlashSeq] = useState<number | null>(null);
  // Rows mount and unmount while scrolling, so the list itself is not a live region:
  // arriving messages are announced here instead.
  const [announce, setAnnounce] = useState("");
  const prevItems = useRef<TimelineItem[]>([]);
  const initialDone = useRef(false);

  // Decided during render: virtua reads `shift` in the render where the count changes.
  const shift = isPrepend(prevItems.current, items);

  const toBottom = useCallback(() => {
    const n = list.current;
    const count = prevItems.current.length;
    if (n && count > 0) n.scrollToIndex(count - 1, { align: "end" });
  }, []);

  useLayoutEffect(() => {
    const prev = prevItems.current;
    prevItems.current = items;
    const n = list.current;
    if (!n || items.length === 0) return;
    if (!initialDone.current) {
      if (!tl.loaded) return;
      initialDone.current = true;
      if (markerIndex > 0) {
        stick.current = false;
        n.scrollToIndex(markerIndex, { align: "start" });
      } else {
        stick.current = true;
        n.scrollToIndex(items.length - 1, { align: "end" });
      }
      return;
    }
    if (shift) return;
    const last = items[items.length - 1]!;
    if (prev.length > 0 && last.key !== prev[prev.length - 1]!.key) {
      const mine = last.kind === "pending" || last.message.sender_id === myId;
      if (!mine && last.kind === "message" && last.message.content.kind !== "system") {
        const ex = replyExcerpt(last.message.content, 200);
        setAnnounce(`${vm.nameOf(last.message.sender_id)}: ${ex.kind === "text" ? ex.text : t(`kind_${ex.content}` as MessageKey)}`);
      }
      if (stick.current || mine) {
        stick.current = true;
        n.scrollToIndex(items.length - 1, { align: "end" });
        setNewBelow(0);
      } else {
        setNewBelow((c) => c + Math.max(1, items.length - prev.length));
      }
    }
  }, [items, tl.loaded]);

  const onScroll = useCallback((offset: number) => {
    const n = list.current;
    if (!n) return;
    const bottom = n.scrollSize - offset - n.viewportSize < BOTTOM_PX;
    stick.current = bottom;
    setAtBottom(bottom);
    if (bottom) setNewBelow(0);
    if (offset < LOAD_OLDER_PX && initialDone.current) vm.loadOlder();
  }, [vm]);

  // Rows measured or the pane resized (the composer grew): stay at the newest message.
  const onResize = useCallback(() => { if (stick.current) toBottom(); }, []);

  // Mark read while the newest messages are on screen and the tab is visible.
  useEffect(() => {
    const mark = () => {
      if (atBottom && document.visibilityState === "visible") vm.markRead();
    };
    mark();
    document.addEventListener("visibilitychange", mark);
    return () => document.removeEventListener("visibilitychange", mark);
  }, [atBottom, items.length, vm]);

  const jump = () => {
    stick.current = true;
    toBottom();
    setNewBelow(0);
    setAtBottom(true);
  };

  const flashTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => { if (flashTimer.current) clearTimeout(flashTimer.current); }, []);
  // A click on a reply quote: bring the original into view and highlight it a moment.
  const openQuoted = useCallback((seq: number) => {
    const i = itemIndexOfSeq(prevItems.current, seq);
    if (i < 0) return;
    stick.current = false;
    list.current?.scrollToIndex(i, { align: "center" });
    setFlashSeq(seq);
    if (flashTimer.current) clearTimeout(flashTimer.current);
    flashTimer.current = setTimeout(() => setFlashSeq(null), 1600);
  }, []);

  return (
    <div class="timeline-wrap">
      <div class="timeline" role="log" aria-live="off"
        aria-label={t("chats")} tabIndex={0} data-loaded={items.length}>
        <div class="timeline-head">
          {tl.loaded && !tl.hasOlder && <p class="beginning muted">{t("beginning")}</p>}
          {tl.loadingOlder && <p class="loading muted">{t("loadingOlder")}</p>}
        </div>
        <Virtualizer ref={list} data={items} shift={shift} startMargin={HEAD_PX} bufferSize={400}
          onScroll={onScroll} onResize={onResize}>
          {(it: TimelineItem, i: number) => {
            const m = it.kind === "message" ? it.message : null;
            const replyTo = m?.reply_to ?? null;
            const quoted = replyTo !== null ? vm.quoted(replyTo) : undefined;
            return (
              <Row key={it.key} item={it} prev={i > 0 ? items[i - 1] : undefined} vm={vm} group={group} myId={myId}
                marker={i === markerIndex && markerIndex > 0} quoted={quoted} flash={m !== null && m.seq === flashSeq}
                onQuote={openQuoted} />
            );
          }}
        </Virtualizer>
      </div>
      <div class="sr-only" aria-live="polite" aria-atomic="true">{announce}</div>
      <Typing vm={vm} />
      {!atBottom && (
        <button type="button" class={`jump${newBelow > 0 ? " has-new" : ""}`} onClick={jump} aria-label={t("jumpToBottom")}
          data-new={newBelow > 0 ? newBelow : undefined}>
          {newBelow > 0 && <span class="jump-label">{t("newMessages")}</span>}
          <Icon name="down" />{newBelow > 0 && <span class="badge">{newBelow}</span>}
        </button>
      )}
    </div>
  );
});

/** Who is typing here. Its own component, so typing events re-render this line only. */
function Typing({ vm }: { vm: TimelineViewModel }) {
  const typers = vm.typingNames();
  return (
    <div class="typing" aria-live="polite">
      {typers.length === 1 ? t("typing", { name: typers[0]! }) : typers.length > 1 ? t("typingMany") : ""}
    </div>
  );
}
