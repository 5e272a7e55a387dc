import type { Message } from "../../generated/protocol";
import type { TimelineItem } from "../../state/timeline";
import type { TimelineViewModel } from "../../vm/timeline";
import { Avatar, RichText } from "../common";
import { formatTime } from "../format";
import { MessageContentView } from "./kinds";
import { ReplyQuote } from "./ReplyQuote";
import { MessageStatus, PendingStatus } from "./Status";

export interface BubbleProps {
  item: TimelineItem;
  vm: TimelineViewModel;
  group: boolean;
  /** Same sender as the row above (no name or avatar again). */
  continued: boolean;
  /** The message replied to: undefined when this is no reply, null when it is not loaded. */
  quoted: Message | null | undefined;
  onQuote: (seq: number) => void;
}

/** One message or pending send, with its sender, reply quote, content, time and state. */
export function Bubble(props: BubbleProps) {
  const { item, group, continued, vm } = props;
  const myId = vm.myId;
  const mine = item.kind === "pending" || item.message.sender_id === myId;
  const sender = item.kind === "pending" ? myId : item.message.sender_id;
  const showName = group && !mine && !continued;
  const name = group && !mine ? vm.nameOf(sender) : "";
  const m = item.kind === "message" ? item.message : null;
  return (
    <div class={`msg ${mine ? "mine" : "theirs"} ${continued ? "cont" : ""}`}
      data-seq={m ? m.seq : undefined}
      data-state={item.kind === "pending" ? (item.pending.error ? "failed" : "pending") : "sent"}>
      {!mine && group && (continued ? <span class="avatar-gap" /> : <Avatar name={name} seed={sender} size="s" />)}
      <div class="bubble">
        {showName && <div class="sender">{name}</div>}
        {m && m.reply_to !== null && props.quoted !== undefined &&
          <ReplyQuote seq={m.reply_to} quoted={props.quoted} names={vm} onOpen={props.onQuote} />}
        <div class="text">
          {item.kind === "pending" ? <RichText text={item.pending.text} /> : <MessageContentView content={item.message.content} />}
        </div>
        <div class="meta">
          <span class="time">{formatTime(m ? m.sent_at : item.kind === "pending" ? item.pending.created_at : 0)}</span>
          {mine && (item.kind === "pending"
            ? <PendingStatus p={item.pending} vm={vm} />
            : <MessageStatus vm={vm} seq={item.message.seq} group={group} />)}
        </div>
      </div>
    </div>
  );
}
