import type { MediaRef } from "../../../generated/protocol";
import { t, type MessageKey } from "../../../i18n";

/** Media kinds are reserved in the protocol but not served yet: a labelled placeholder. */
export function MediaPlaceholder(props: { kind: "image" | "voice" | "video" | "file"; icon: string; media: MediaRef }) {
  const label = t(`kind_${props.kind}` as MessageKey);
  return (
    <span class="media-placeholder muted" data-kind={props.kind}>
      <span aria-hidden="true">{props.icon} </span>{props.media.name ? `${label}: ${props.media.name}` : label}
      {" "}<span class="unsupported">{t("unsupported")}</span>
    </span>
  );
}
