// Dates and times as the user's language writes them. Building an
// Intl.DateTimeFormat is expensive (a review of the client measured 1,000 new
// ones at 288 ms in Chromium, against 2 ms for one reused), and every bubble
// of a long chat shows a time: each style's formatter is made once per
// language and reused.

import { lang } from "../i18n";

type Style = "time" | "weekday" | "shortDate" | "longDay";

const OPTIONS: Record<Style, Intl.DateTimeFormatOptions> = {
  time: { hour: "2-digit", minute: "2-digit" },
  weekday: { weekday: "short" },
  shortDate: { year: "2-digit", month: "numeric", day: "numeric" },
  longDay: { year: "numeric", month: "long", day: "numeric", weekday: "short" },
};

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The formatter of `style` for the current language, made on first use. */
export function formatter(style: Style): Intl.DateTimeFormat {
  const key = `${lang.value}|${style}`;
  let found = formatters.get(key);
  if (!found) {
    found = new Intl.DateTimeFormat(lang.value, OPTIONS[style]);
    formatters.set(key, found);
  }
  return found;
}

const lists = new Map<string, Intl.ListFormat>();

/** Names joined as the language joins them: "Ann, Bob and Carol", "安、鲍勃和卡罗尔". */
export function formatList(items: readonly string[]): string {
  let found = lists.get(lang.value);
  if (!found) {
    found = new Intl.ListFormat(lang.value, { style: "long", type: "conjunction" });
    lists.set(lang.value, found);
  }
  return found.format(items);
}

const sameDay = (a: Date, b: Date) =>
  a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();

export function formatTime(ms: number): string {
  return formatter("time").format(ms);
}

/** Short time for the conversation list: time today, weekday this week, date otherwise. */
export function formatListTime(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  if (sameDay(d, new Date(now))) return formatTime(ms);
  if (now - ms < 6 * 86400_000) return formatter("weekday").format(d);
  return formatter("shortDate").format(d);
}

/**
 * A moment as a person says it: "14:05" today, "Tue 14:05" this week, the date
 * and time before that. For "last seen" and device lists, where a time alone
 * would be ambiguous and a date alone too vague.
 */
export function formatMoment(ms: number, now = Date.now()): string {
  const day = formatListTime(ms, now);
  const time = formatTime(ms);
  return day === time ? time : `${day} ${time}`;
}

/** The day separator of a timeline: "today", "yesterday", or the date in full. */
export function formatDay(ms: number, today: string, yesterday: string, now = Date.now()): string {
  const d = new Date(ms);
  if (sameDay(d, new Date(now))) return today;
  if (sameDay(d, new Date(now - 86400_000))) return yesterday;
  return formatter("longDay").format(d);
}

export function dayKey(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}
