import { afterEach, describe, expect, it } from "vitest";
import { lang } from "../i18n";
import { dayKey, formatDay, formatList, formatListTime, formatMoment, formatTime, formatter } from "./format";

const NOON = new Date(2026, 11, 1, 12, 0).getTime();
const DAY = 86400_000;

afterEach(() => { lang.value = "en"; });

describe("date formatting", () => {
  it("makes one formatter per style and language, and a new one when the language changes", () => {
    lang.value = "en";
    const english = formatter("time");
    expect(formatter("time")).toBe(english);
    expect(formatter("weekday")).not.toBe(english);
    lang.value = "zh-CN";
    const chinese = formatter("time");
    expect(chinese).not.toBe(english);
    expect(chinese.resolvedOptions().locale.startsWith("zh")).toBe(true);
    expect(formatter("time")).toBe(chinese);
  });

  it("writes what a fresh formatter of the same language writes", () => {
    for (const language of ["en", "zh-CN"] as const) {
      lang.value = language;
      const fresh = new Intl.DateTimeFormat(language, { hour: "2-digit", minute: "2-digit" });
      expect(formatTime(NOON)).toBe(fresh.format(NOON));
    }
  });

  it("shortens list times by age: the time today, the weekday this week, else the date", () => {
    lang.value = "en";
    expect(formatListTime(NOON - 60_000, NOON)).toBe(formatTime(NOON - 60_000));
    const threeDaysAgo = NOON - 3 * DAY;
    expect(formatListTime(threeDaysAgo, NOON)).toBe(
      new Intl.DateTimeFormat("en", { weekday: "short" }).format(threeDaysAgo));
    const lastMonth = NOON - 30 * DAY;
    expect(formatListTime(lastMonth, NOON)).toBe(
      new Intl.DateTimeFormat("en", { year: "2-digit", month: "numeric", day: "numeric" }).format(lastMonth));
  });

  it("names today and yesterday, and spells other days out", () => {
    expect(formatDay(NOON, "today", "yesterday", NOON)).toBe("today");
    expect(formatDay(NOON - DAY, "today", "yesterday", NOON)).toBe("yesterday");
    expect(formatDay(NOON - 2 * DAY, "today", "yesterday", NOON)).toContain("2026");
    expect(dayKey(NOON)).toBe(dayKey(NOON + 60_000));
    expect(dayKey(NOON)).not.toBe(dayKey(NOON + DAY));
  });

  it("says a moment once: the time today, with the day before that", () => {
    lang.value = "en";
    expect(formatMoment(NOON - 3600_000, NOON)).toBe(formatTime(NOON - 3600_000));
    const lastWeek = NOON - 3 * DAY;
    expect(formatMoment(lastWeek, NOON)).toBe(`${formatListTime(lastWeek, NOON)} ${formatTime(lastWeek)}`);
    const longAgo = NOON - 40 * DAY;
    const shown = formatMoment(longAgo, NOON);
    expect(shown).toContain(formatTime(longAgo));
    expect(shown.split(formatTime(longAgo)).length).toBe(2);
  });

  it("joins names as each language does, with no English comma in Chinese", () => {
    lang.value = "en";
    expect(formatList(["you", "Carol"])).toBe("you and Carol");
    expect(formatList(["Ann", "Bob", "Carol"])).toBe("Ann, Bob, and Carol");
    lang.value = "zh-CN";
    const joined = formatList(["你", "Carol", "Dave"]);
    expect(joined).not.toContain(",");
    expect(joined).toBe("你、Carol和Dave");
  });
});
