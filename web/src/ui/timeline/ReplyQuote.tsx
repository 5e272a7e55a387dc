import type { Message } from "../../generated/protocol";
import { t, type MessageKey } from "../../i18n";
import type { Names } from "../../vm/names";
import { replyExcerpt } from "../../vm/text";

/**
 * The quote above a reply: who wrote the original and how it starts, and a way to
 * it; or a neutral line when the original is not loaded (older than what is held).
 */
export function ReplyQuote(props: { seq: number; quoted: Message | null; names: Names; onOpen: (seq: number) => void }) {
  const { quoted, seq } = props;
  if (!quoted) {
    return <div class="reply-quote reply-missing" data-reply-to={seq}>{t("replyEarlier")}</div>;
  }
  const ex = replyExcerpt(quoted.content);
  const sender = quoted.content.kind === "system" ? null : props.names.nameOf(quoted.sender_id);
  return (
    <button type="button" class="reply-quote" data-reply-to={seq} title={t("replyShowOriginal")}
      onClick={() => props.onOpen(seq)}>
      {sender !== null && <span class="reply-sender">{sender}</span>}
      <span class="reply-excerpt">{ex.kind === "text" ? ex.text : t(`kind_${ex.content}` as MessageKey)}</span>
    </button>
  );
}
