// Pure helpers for showing text: link detection, initials, colours, permissions.
import type { Role } from "../generated/protocol";

export type TextPart = { kind: "text"; text: string } | { kind: "link"; text: string; href: string };

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?'")\]}>…。，；：！？」』】）]+$/u;

/**
 * Splits message text into plain runs and links. Only absolute http(s) URLs become links;
 * everything else (javascript:, data:, HTML) stays text. The caller renders parts as text nodes.
 */
export function splitLinks(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let raw = m[0];
    const trail = raw.match(TRAILING);
    if (trail) raw = raw.slice(0, raw.length - trail[0].length);
    const start = m.index ?? 0;
    let href: string | null = null;
    try {
      const u = new URL(raw);
      if (u.protocol === "http:" || u.protocol === "https:") href = u.href;
    } catch {
      href = null;
    }
    if (!href) continue;
    if (start > last) parts.push({ kind: "text", text: text.slice(last, start) });
    parts.push({ kind: "link", text: raw, href });
    last = start + raw.length;
  }
  if (last < text.length) parts.push({ kind: "text", text: text.slice(last) });
  return parts;
}

/** One or two characters for an avatar. */
export function initials(name: string): string {
  const trimmed = name.trim();
  if (!trimmed) return "?";
  const chars = [...trimmed];
  // CJK names: the first character reads best; Latin names: first letters of two words.
  if (/\p{Script=Han}/u.test(chars[0]!)) return chars[0]!;
  const words = trimmed.split(/\s+/).filter(Boolean);
  if (words.length >= 2) return ([...words[0]!][0]! + [...words[1]!][0]!).toUpperCase();
  return chars[0]!.toUpperCase();
}

/** A stable colour index (0–7) from a name. */
export function colorIndex(key: string): number {
  let h = 0;
  for (const ch of key) h = (h * 31 + ch.codePointAt(0)!) >>> 0;
  return h % 8;
}

export type GroupAction = "rename" | "announce" | "invite" | "kick" | "setRole" | "transfer" | "leave";

const RANK: Record<Role, number> = { member: 0, admin: 1, owner: 2 };

/** Whether `me` may do `action` (to a member with `target` role), per PROTOCOL.md §14. */
export function can(me: Role | null, action: GroupAction, target?: Role): boolean {
  if (!me) return false;
  switch (action) {
    case "invite":
    case "leave":
      return true;
    case "rename":
    case "announce":
      return RANK[me] >= RANK.admin;
    case "kick":
      if (!target || target === "owner") return false;
      return me === "owner" || (me === "admin" && target === "member");
    case "setRole":
    case "transfer":
      return me === "owner" && target !== undefined && target !== "owner";
  }
}

/** A browser-derived device name, e.g. "Chrome on Linux". */
export function deviceName(ua: string): string {
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox"
    : /Chrom(e|ium)\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "Browser";
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Windows/.test(ua) ? "Windows"
    : /Mac OS X/.test(ua) ? "macOS" : /Linux/.test(ua) ? "Linux" : "";
  return os ? `${browser} on ${os}` : browser;
}
