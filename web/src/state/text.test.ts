import { describe, expect, it } from "vitest";
import { can, colorIndex, deviceName, initials, splitLinks } from "./text";

describe("splitLinks", () => {
  it("finds http and https links and leaves the rest as text", () => {
    expect(splitLinks("see https://example.com/a?b=1, ok")).toEqual([
      { kind: "text", text: "see " },
      { kind: "link", text: "https://example.com/a?b=1", href: "https://example.com/a?b=1" },
      { kind: "text", text: ", ok" },
    ]);
  });
  it("never links other schemes", () => {
    for (const s of ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:x", "JaVaScRiPt:alert(1)", "<a href=\"javascript:alert(1)\">x</a>"]) {
      expect(splitLinks(s).every((p) => p.kind === "text")).toBe(true);
    }
  });
  it("keeps HTML as text around a link", () => {
    const parts = splitLinks('<img src=x onerror=alert(1)> http://a.test/"><script>');
    expect(parts.filter((p) => p.kind === "link").map((p) => p.kind === "link" && p.href)).toEqual(["http://a.test/"]);
    expect(parts.map((p) => p.text).join("")).toBe('<img src=x onerror=alert(1)> http://a.test/"><script>');
  });
  it("drops trailing punctuation from links", () => {
    const parts = splitLinks("(http://x.test/a).");
    expect(parts.find((p) => p.kind === "link")?.text).toBe("http://x.test/a");
  });
  it("text without links is one part; empty text none", () => {
    expect(splitLinks("hello")).toEqual([{ kind: "text", text: "hello" }]);
    expect(splitLinks("")).toEqual([]);
  });
});

describe("avatars", () => {
  it("initials", () => {
    expect(initials("alice")).toBe("A");
    expect(initials("Alice Liddell")).toBe("AL");
    expect(initials("张三")).toBe("张");
    expect(initials("  ")).toBe("?");
    expect(initials("😀 smile")).toBe("😀S");
  });
  it("colours are stable and in range", () => {
    expect(colorIndex("bob")).toBe(colorIndex("bob"));
    for (const k of ["a", "b", "c", "张三", "x".repeat(100)]) expect(colorIndex(k)).toBeGreaterThanOrEqual(0), expect(colorIndex(k)).toBeLessThan(8);
  });
});

describe("group permissions (PROTOCOL §14)", () => {
  it("matches the role table", () => {
    expect(can("member", "rename")).toBe(false);
    expect(can("admin", "rename")).toBe(true);
    expect(can("member", "invite")).toBe(true);
    expect(can("admin", "kick", "member")).toBe(true);
    expect(can("admin", "kick", "admin")).toBe(false);
    expect(can("owner", "kick", "admin")).toBe(true);
    expect(can("owner", "kick", "owner")).toBe(false);
    expect(can("admin", "setRole", "member")).toBe(false);
    expect(can("owner", "setRole", "admin")).toBe(true);
    expect(can("owner", "transfer", "member")).toBe(true);
    expect(can("admin", "transfer", "member")).toBe(false);
    expect(can(null, "invite")).toBe(false);
  });
});

describe("deviceName", () => {
  it("names the browser and system", () => {
    expect(deviceName("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36")).toBe("Chrome on Linux");
    expect(deviceName("Mozilla/5.0 (Windows NT 10.0; rv:121.0) Gecko/20100101 Firefox/121.0")).toBe("Firefox on Windows");
    expect(deviceName("curl/8")).toBe("Browser");
  });
});
