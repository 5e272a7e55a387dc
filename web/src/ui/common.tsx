import { useState } from "preact/hooks";
import type { ComponentChildren } from "preact";
import { t } from "../i18n";
import { colorIndex, initials, splitLinks } from "../state/text";
import { formatDay as formatDayIn } from "./format";

export function Avatar(props: { name: string; seed?: string | number; size?: "s" | "m" | "l"; online?: boolean | null }) {
  const seed = String(props.seed ?? props.name);
  return (
    <span class={`avatar avatar-${props.size ?? "m"} avatar-c${colorIndex(seed)}`} aria-hidden="true">
      {initials(props.name)}
      {props.online != null && <span class={props.online ? "dot dot-on" : "dot dot-off"} />}
    </span>
  );
}

/** Message text: plain text nodes, with http(s) links that open safely in a new tab. */
export function RichText(props: { text: string }) {
  return (
    <>
      {splitLinks(props.text).map((p, i) =>
        p.kind === "text" ? p.text : (
          <a key={i} href={p.href} target="_blank" rel="noopener noreferrer nofollow ugc">{p.text}</a>
        ))}
    </>
  );
}

export { dayKey, formatListTime, formatTime } from "./format";

/** The day separator of a timeline, in the user's language. */
export function formatDay(ms: number, now = Date.now()): string {
  return formatDayIn(ms, t("today"), t("yesterday"), now);
}

export function Section(props: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="section" aria-labelledby={props.id}>
      <h2 id={props.id} class="section-title">{props.title}</h2>
      {props.children}
    </section>
  );
}

export function ErrorLine(props: { error: string | null }) {
  return props.error ? <p class="error" role="alert">{props.error}</p> : null;
}

export function Icon(props: { name: "chat" | "contacts" | "settings" | "back" | "send" | "emoji" | "down" | "info" | "close" | "plus" | "search" }) {
  const paths: Record<typeof props.name, string> = {
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z",
    contacts: "M16 11a4 4 0 1 0-8 0 4 4 0 0 0 8 0zM4 21c0-4 4-6 8-6s8 2 8 6",
    settings: "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 1 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 1 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z",
    back: "M15 18l-6-6 6-6",
    send: "M22 2L11 13M22 2l-7 20-4-9-9-4 20-7z",
    emoji: "M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20zM8 14s1.5 2 4 2 4-2 4-2M9 9h.01M15 9h.01",
    down: "M6 9l6 6 6-6",
    info: "M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20zM12 16v-4M12 8h.01",
    close: "M18 6L6 18M6 6l12 12",
    plus: "M12 5v14M5 12h14",
    search: "M11 19a8 8 0 1 0 0-16 8 8 0 0 0 0 16zM21 21l-4.3-4.3",
  };
  return (
    <svg class="icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
      <path d={paths[props.name]} />
    </svg>
  );
}

/** A button that asks for confirmation inline (no native dialogs). */
export function ConfirmButton(props: { label: string; question: string; onConfirm(): void; class?: string }) {
  const [armed, setArmed] = useState(false);
  if (!armed) {
    return <button type="button" class={props.class ?? "btn"} onClick={() => setArmed(true)}>{props.label}</button>;
  }
  return (
    <span class="confirm" role="group" aria-label={props.question}>
      <span>{props.question}</span>
      <button type="button" class="btn btn-danger btn-small" onClick={() => { setArmed(false); props.onConfirm(); }}>{props.label}</button>
      <button type="button" class="btn btn-small" onClick={() => setArmed(false)}>{t("cancel")}</button>
    </span>
  );
}
