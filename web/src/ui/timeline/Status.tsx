import { errorText, t } from "../../i18n";
import type { PendingSend } from "../../state/timeline";
import type { TimelineViewModel } from "../../vm/timeline";

/** Read receipt of one of our messages. Reads the member list itself, so a peer's read
 * position re-renders these marks only, not the rows around them. */
export function MessageStatus(props: { vm: TimelineViewModel; seq: number; group: boolean }) {
  const d = props.vm.delivery(props.seq);
  const label = d.state === "read" ? (props.group ? t("readBy", { n: d.readBy }) : t("read")) : t("sent");
  return (
    <span class={`status status-${d.state}`} data-status={d.state} title={label} aria-label={label}>
      {d.state === "read" ? (props.group ? `✓✓ ${d.readBy}` : "✓✓") : "✓"}
    </span>
  );
}

/** A send the server has not confirmed: waiting, or refused with retry and discard. */
export function PendingStatus({ p, vm }: { p: PendingSend; vm: TimelineViewModel }) {
  if (p.error) {
    return (
      <span class="status status-failed" data-status="failed">
        <span title={errorText({ code: p.error })}>{t("failed")}: {errorText({ code: p.error })}</span>{" "}
        <button type="button" class="btn-link" onClick={() => vm.retry(p.client_msg_id)}>{t("retry")}</button>{" "}
        <button type="button" class="btn-link" onClick={() => vm.discard(p.client_msg_id)}>{t("discard")}</button>
      </span>
    );
  }
  return <span class="status status-pending" data-status="pending" title={t("pending")} aria-label={t("pending")}>🕓</span>;
}
