import { describe, expect, it } from "vitest";
import { replyExcerpt, textBudget, TEXT_MAX_BYTES, utf8Length } from "./text";

describe("utf8Length", () => {
  it("counts bytes as TextEncoder does", () => {
    for (const s of ["", "hello", "é", "中文消息", "👋🏽 hi", "a\u0301", "x\ud800y", "\udc00", "\ud83d"]) {
      expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
    }
  });
  it("a Chinese character is 3 bytes, so 5,461 fit in 16 KiB and 5,462 do not", () => {
    expect(textBudget("中".repeat(5461)).over).toBe(false);
    expect(textBudget("中".repeat(5462)).over).toBe(true);
    expect(textBudget("a".repeat(TEXT_MAX_BYTES)).over).toBe(false);
    expect(textBudget("a".repeat(TEXT_MAX_BYTES + 1)).over).toBe(true);
  });
  it("shows the counter only near the limit", () => {
    expect(textBudget("short").show).toBe(false);
    expect(textBudget("中".repeat(5000)).show).toBe(true);
  });
});

describe("replyExcerpt", () => {
  it("flattens the text to one line", () => {
    expect(replyExcerpt({ kind: "text", text: "  line one\n\nline two  " })).toEqual({ kind: "text", text: "line one line two" });
  });
  it("cuts long text at whole code points with an ellipsis", () => {
    const r = replyExcerpt({ kind: "text", text: "😀".repeat(100) }, 10);
    expect(r).toEqual({ kind: "text", text: "😀".repeat(10) + "…" });
  });
  it("names other kinds instead of quoting them", () => {
    expect(replyExcerpt({ kind: "image", media: { media_id: "m", mime: "image/png", size: 1 } })).toEqual({ kind: "label", content: "image" });
  });
});
