// Pure text rules of the timeline and the composer (no DOM, no signals).
import type { MessageContent } from "../generated/protocol";

/** Message text limit, in bytes of UTF-8 (`natter_protocol::limits::TEXT_MAX_BYTES`). */
export const TEXT_MAX_BYTES = 16 * 1024;
/** From this many bytes on, the composer shows how much of the limit is used. */
export const TEXT_WARN_BYTES = 14 * 1024;

/**
 * Length of `s` in bytes of UTF-8, as the server counts it. A lone surrogate
 * is sent as U+FFFD (3 bytes), as TextEncoder and JSON encoders do.
 */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { n += 4; i++; } else n += 3;
    } else n += 3;
  }
  return n;
}

/** What the composer says about the text's size. */
export function textBudget(text: string): { bytes: number; over: boolean; show: boolean } {
  const bytes = utf8Length(text);
  return { bytes, over: bytes > TEXT_MAX_BYTES, show: bytes >= TEXT_WARN_BYTES };
}

export type Excerpt = { kind: "text"; text: string } | { kind: "label"; content: MessageContent["kind"] };

/**
 * The excerpt a reply quote shows: the start of the text on one line, at most
 * `max` characters (whole code points, never half an emoji), or the kind of the message.
 */
export function replyExcerpt(content: MessageContent, max = 80): Excerpt {
  if (content.kind !== "text") return { kind: "label", content: content.kind };
  const flat = content.text.replace(/\s+/g, " ").trim();
  const chars = Array.from(flat);
  if (chars.length <= max) return { kind: "text", text: flat };
  return { kind: "text", text: chars.slice(0, max).join("").trimEnd() + "…" };
}
