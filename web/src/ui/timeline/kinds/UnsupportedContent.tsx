import { t } from "../../../i18n";
import type { MessageContent } from "../../../generated/protocol";

/** Any kind this client has no component for (stickers, encrypted, kinds added later). */
export function UnsupportedContent({ content }: { content: MessageContent }) {
  return <span class="muted unsupported" data-kind={content.kind}>{t("unsupported")}</span>;
}
