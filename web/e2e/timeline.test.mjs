// End-to-end tests of the virtualized timeline, in headless Chromium against a real server.
// A long chat is seeded over the HTTP API (rate limits off, for seeding speed only).
// No assertion here is about time: bounds are on DOM size and positions.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { api, seedMessages, seedText, twoFriends } from "../bench/seed.mjs";
import { cspViolations, launchBrowser, login, newUserPage, openChatWith, sendMessage, startServer } from "./harness.mjs";

const SEEDED = 600;
let server, browser, chat;

before(async () => {
  server = await startServer(["--rate-limits", "false"]);
  browser = await launchBrowser();
  chat = await twoFriends(server, "tina", "umar");
  await seedMessages(chat.call, chat.conv, [chat.a, chat.b], SEEDED);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Tina in a fresh browser context (empty cache), with her chat with Umar open. */
async function openFresh(opts = {}) {
  const u = await newUserPage(browser, server, opts);
  u.page.setDefaultTimeout(15_000);
  if (opts.route) await opts.route(u.page);
  await login(u.page, "tina");
  await openChatWith(u.page, "umar");
  await u.page.locator('.conn[data-state="online"]').waitFor();
  return u;
}

const exact = (text) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);

/** The first bubble wholly inside the timeline's viewport: its seq and top (waits for one). */
async function firstVisible(page) {
  const h = await page.waitForFunction(() => {
    const tl = document.querySelector(".timeline").getBoundingClientRect();
    for (const el of document.querySelectorAll(".timeline .msg[data-seq]")) {
      const r = el.getBoundingClientRect();
      if (r.top >= tl.top + 45 && r.bottom <= tl.bottom) return { seq: el.dataset.seq, top: r.top };
    }
    return null;
  });
  return h.jsonValue();
}

const atBottom = (page) => page.locator(".timeline").evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 60);

describe("long timeline", () => {
  it("holds far fewer bubbles in the DOM than it has loaded, and scrolling up reaches the first message", async () => {
    const { page, context } = await openFresh();
    await page.locator(".msg .text", { hasText: exact(seedText(SEEDED)) }).waitFor();
    let most = 0;
    const first = page.locator(".msg .text", { hasText: exact(seedText(1)) });
    for (let round = 0; round < 200 && !(await first.count()); round++) {
      await page.locator(".timeline").evaluate((el) => { el.scrollTop = 0; });
      await page.waitForTimeout(150);
      most = Math.max(most, await page.locator(".msg").count());
    }
    await first.waitFor();
    await page.locator(".beginning").waitFor();
    most = Math.max(most, await page.locator(".msg").count());
    // Every message was loaded (the start was reached), but only a window is rendered.
    assert.ok(most < 150, `at most ${most} bubbles in the DOM for ${SEEDED} loaded`);
    assert.deepEqual(await cspViolations(page), []);
    assert.deepEqual(page.log.errors, []);
    await context.close();
  });

  it("keeps the message in view in place while an older page loads and is prepended", async () => {
    // Older pages come from the server (fresh cache), slowed so the loading state lasts.
    const { page, context } = await openFresh({
      route: (p) => p.route(/\/api\/v1\/conversations\/\d+\/messages\?.*before=/, async (route) => {
        await new Promise((r) => setTimeout(r, 500));
        await route.continue();
      }),
    });
    await page.locator(".msg .text", { hasText: exact(seedText(SEEDED)) }).waitFor();
    await page.waitForTimeout(300);
    // Scroll near the top, pick the message in view, and watch its position every frame.
    const anchor = await page.evaluate(async () => {
      const tl = document.querySelector(".timeline");
      tl.scrollTop = 120;
      const frame = () => new Promise((r) => requestAnimationFrame(r));
      await frame(); await frame(); await frame();
      const box = tl.getBoundingClientRect();
      const el = [...tl.querySelectorAll(".msg[data-seq]")].find((m) => {
        const r = m.getBoundingClientRect();
        return r.top >= box.top + 45 && r.bottom <= box.bottom;
      });
      const seq = el.dataset.seq;
      const top0 = el.getBoundingClientRect().top;
      window.__drift = { seq, top0, max: 0, samples: 0 };
      const sample = () => {
        const now = document.querySelector(`.timeline .msg[data-seq="${seq}"]`);
        const d = window.__drift;
        d.samples++;
        d.max = Math.max(d.max, now ? Math.abs(now.getBoundingClientRect().top - top0) : Infinity);
        if (!d.done) requestAnimationFrame(sample);
      };
      requestAnimationFrame(sample);
      return { seq: Number(seq), top0 };
    });
    const oldest = SEEDED - 49;
    // The older page arrives: the message just below the old first one is in the DOM.
    await page.locator(`.msg[data-seq="${oldest - 1}"]`).waitFor({ state: "attached" });
    await page.waitForTimeout(400);
    const drift = await page.evaluate(() => { window.__drift.done = true; return window.__drift; });
    const box = await page.locator(`.msg[data-seq="${anchor.seq}"]`).boundingBox();
    assert.ok(drift.samples > 5, `sampled ${drift.samples} frames`);
    assert.ok(drift.max <= 3, `message ${anchor.seq} moved by up to ${drift.max}px while loading older messages`);
    assert.ok(box && Math.abs(box.y - anchor.top0) <= 3, `message ${anchor.seq} at ${box?.y}, was ${anchor.top0}`);
    await context.close();
  });

  it("shows the quote of a reply sent from another client, and scrolls to the original", async () => {
    const { page, context } = await openFresh();
    await page.locator(".msg .text", { hasText: exact(seedText(SEEDED)) }).waitFor();
    const call = api(server);
    const quotedSeq = SEEDED - 31;
    await call("POST", `/conversations/${chat.conv}/messages`, chat.b.token, {
      client_msg_id: "reply-loaded", content: { kind: "text", text: "answering that one" }, reply_to: quotedSeq,
    });
    await call("POST", `/conversations/${chat.conv}/messages`, chat.b.token, {
      client_msg_id: "reply-old", content: { kind: "text", text: "answering an old one" }, reply_to: 3,
    });
    const reply = page.locator(".msg.theirs", { hasText: "answering that one" });
    await reply.waitFor();
    const quote = reply.locator(".reply-quote");
    await quote.locator(".reply-excerpt", { hasText: exact(seedText(quotedSeq)) }).waitFor();
    // Seeded messages alternate senders: seq i came from tina (me) when i is odd.
    await quote.locator(".reply-sender").waitFor();
    // The original of the other reply is not loaded: a neutral line, no guessed text.
    const old = page.locator(".msg.theirs", { hasText: "answering an old one" }).locator(".reply-quote");
    await old.waitFor();
    assert.equal(await old.locator(".reply-excerpt").count(), 0);
    assert.match(await old.innerText(), /earlier message/);
    // Clicking the quote brings the original into view.
    await quote.click();
    await page.waitForFunction((seq) => {
      const el = document.querySelector(`.timeline .msg[data-seq="${seq}"]`);
      const tl = document.querySelector(".timeline").getBoundingClientRect();
      if (!el) return false;
      const r = el.getBoundingClientRect();
      return r.top >= tl.top && r.bottom <= tl.bottom;
    }, quotedSeq);
    await context.close();
  });

  for (const locale of ["en-US", "zh-CN"]) {
    it(`refuses a message over 16 KiB of UTF-8 and shows the limit (${locale})`, async () => {
      const { page, context } = await openFresh({ locale });
      const input = page.locator(".composer-input");
      // 5,462 Chinese characters are 16,386 bytes: 2 over the server's limit.
      const ch = locale === "zh-CN" ? "字" : "长";
      const tooLong = ch.repeat(5462);
      await input.fill(tooLong);
      const limit = page.locator('[data-testid="composer-limit"]');
      await limit.waitFor();
      assert.equal(await limit.getAttribute("data-over"), "true");
      assert.match(await limit.innerText(), /16,?384/);
      assert.match(await limit.innerText(), locale === "zh-CN" ? /字节/ : /bytes/);
      assert.equal(await page.locator(".composer .send").isDisabled(), true);
      await input.press("Enter");
      await page.waitForTimeout(500);
      assert.equal(await page.locator(".msg.mine", { hasText: ch.repeat(8) }).count(), 0);
      assert.equal(await input.inputValue(), tooLong);
      // One character less fits (16,383 bytes): the counter shows, sending works.
      await input.fill(ch.repeat(5461));
      await page.waitForFunction(() => document.querySelector('[data-testid="composer-limit"]')?.dataset.over === "false");
      await input.press("Enter");
      await page.locator('.msg.mine[data-state="sent"]', { hasText: ch.repeat(8) }).waitFor();
      await context.close();
    });
  }

  it("your own message scrolls to the bottom, even from far up in the history", async () => {
    const { page, context } = await openFresh();
    await page.locator(".msg").first().waitFor();
    await page.waitForTimeout(300);
    // Load a few older pages and stay up there.
    for (let i = 0; i < 4; i++) {
      await page.locator(".timeline").evaluate((el) => { el.scrollTop = 0; });
      await page.waitForTimeout(250);
    }
    assert.equal(await atBottom(page), false);
    await sendMessage(page, "mine, from up in the history");
    const mine = page.locator(".msg.mine", { hasText: "mine, from up in the history" });
    await mine.waitFor();
    await page.waitForFunction(() => {
      const tl = document.querySelector(".timeline");
      return tl.scrollHeight - tl.scrollTop - tl.clientHeight < 60;
    });
    await page.locator('.msg.mine[data-state="sent"]', { hasText: "mine, from up in the history" }).waitFor();
    assert.ok(await mine.isVisible());
    assert.equal(await page.locator(".msg").count() < 150, true, "still virtualized");
    await context.close();
  });

  it("an incoming message while reading history shows a “new messages” button instead of jumping", async () => {
    const { page, context } = await openFresh();
    await page.locator(".msg").first().waitFor();
    await page.waitForTimeout(300);
    await page.locator(".timeline").evaluate((el) => { el.scrollTop = 700; });
    await page.waitForTimeout(300);
    const before = await firstVisible(page);
    assert.ok(before, "a message is in view");
    await api(server)("POST", `/conversations/${chat.conv}/messages`, chat.b.token, {
      client_msg_id: "while-reading", content: { kind: "text", text: "new while you read" },
    });
    const button = page.locator(".jump[data-new]");
    await button.waitFor();
    assert.match(await button.innerText(), /New messages/);
    // Not pulled down: the message that was in view is still there.
    const after = await page.locator(`.msg[data-seq="${before.seq}"]`).boundingBox();
    assert.ok(after && Math.abs(after.y - before.top) <= 3, `stayed in place: ${after?.y} vs ${before.top}`);
    assert.equal(await atBottom(page), false);
    await button.click();
    await page.locator(".msg.theirs", { hasText: "new while you read" }).waitFor();
    await page.waitForFunction(() => {
      const tl = document.querySelector(".timeline");
      return tl.scrollHeight - tl.scrollTop - tl.clientHeight < 60;
    });
    await page.locator(".jump").waitFor({ state: "detached" });
    await context.close();
  });
});
