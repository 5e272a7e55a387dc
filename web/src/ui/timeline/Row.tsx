import { memo } from "preact/compat";
import type { Message } from "../../generated/protocol";
import { t } from "../../i18n";
import type { TimelineItem } from "../../state/timeline";
import type { TimelineViewModel } from "../../vm/timeline";
import { dayKey, formatDay } from "../format";
import { Bubble } from "./Bubble";
import { SystemMessage } from "./kinds";

export interface RowProps {
  item: TimelineItem;
  /** The row above, for the day separator and grouping by sender. */
  prev: TimelineItem | undefined;
  vm: TimelineViewModel;
  group: boolean;
  /** The "new messages" line goes above this row. */
  marker: boolean;
  quoted: Message | null | undefined;
  /** Briefly highlighted (the target of a reply quote). */
  flash: boolean;
  onQuote: (seq: number) => void;
}

const timeOf = (it: TimelineItem) => (it.kind === "message" ? it.message.sent_at : it.pending.created_at);

function senderOf(it: TimelineItem | undefined, myId: number): number | null {
  if (!it) return null;
  if (it.kind === "pending") return myId;
  return it.message.content.kind === "system" ? null : it.message.sender_id;
}

/** One row of the timeline. Memoized: it re-renders only when its own props change
 * (items keep their identity while their message does, see timelineItems). */
export const Row = memo(function Row(props: RowProps & { myId: number }) {
  const { item, prev } = props;
  const at = timeOf(item);
  const showDay = !prev || dayKey(timeOf(prev)) !== dayKey(at);
  const m = item.kind === "message" ? item.message : null;
  return (
    <div class={`item${props.flash ? " flash" : ""}`}>
      {showDay && <div class="day-sep" role="separator"><span>{formatDay(at, t("today"), t("yesterday"))}</span></div>}
      {props.marker && <div class="new-marker" role="separator"><span>{t("newMessages")}</span></div>}
      {m && m.content.kind === "system"
        ? <SystemMessage message={m} event={m.content.event} names={props.vm} />
        : <Bubble item={item} vm={props.vm} group={props.group}
            continued={!showDay && senderOf(prev, props.myId) === senderOf(item, props.myId)}
            quoted={props.quoted} onQuote={props.onQuote} />}
    </div>
  );
});
