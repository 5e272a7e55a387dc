// Browser benchmark of the chat timeline: `node web/bench/timeline.mjs` with NATTER_BIN set.
//
// Seeds a 10,000-message direct chat over the HTTP API (server started with
// `--rate-limits false`: the default budget of 20 messages a second per user would
// make seeding take over 4 minutes), then measures in headless Chromium, with 50,
// 1,000 and 10,000 messages loaded (loaded by scrolling up, as a user does):
//   - own message: Enter pressed → own bubble in the DOM and a frame painted;
//   - incoming message: the other user's POST (made from the page) → bubble in view, painted;
//   - typing 33 characters: input events, each until the next frame;
//   - time to load that many by scrolling up (for 10,000: to reach the start);
//   - JS heap after a forced GC (CDP) and DOM element count.
// Nothing here asserts: it prints a markdown table (and writes JSON with BENCH_JSON=path).
//
// Comparing clients: a debug natter binary reads web/dist from disk per request, so
// BENCH_CLIENTS="old=/tmp/web-before/dist,new=/tmp/web-new-dist" copies each build (kept
// outside web/dist) into web/dist before its run; web/dist is restored at the end. Without it, the client
// the server serves now is measured, labelled "current".
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { launchBrowser, login, newUserPage, openChatWith, startServer } from "../e2e/harness.mjs";
import { seedMessages, twoFriends } from "./seed.mjs";

const TOTAL = Number(process.env.BENCH_MESSAGES ?? 10_000);
const CAP_MS = Number(process.env.BENCH_CAP_MS ?? 180_000);
const REPS = Number(process.env.BENCH_REPS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const LEVELS = [50, 1000, TOTAL];
const DIST = resolve(new URL("../dist", import.meta.url).pathname);

const clients = (process.env.BENCH_CLIENTS ?? "")
  .split(",").filter(Boolean).map((s) => { const [label, dir] = s.split("="); return { label, dir: resolve(dir) }; });

const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };

async function main() {
  let backup = null;
  for (const c of clients) if (c.dir === DIST || c.dir.startsWith(DIST + "/")) throw new Error("copy each client build outside web/dist first");
  if (clients.length) {
    backup = join(mkdtempSync(join(tmpdir(), "natter-dist-")), "dist");
    cpSync(DIST, backup, { recursive: true });
  }
  const server = await startServer(["--rate-limits", "false"]);
  const browser = await launchBrowser();
  try {
    log(`seeding ${TOTAL} messages`);
    const t0 = Date.now();
    const chat = await twoFriends(server, "alice", "bob");
    await seedMessages(chat.call, chat.conv, [chat.a, chat.b], TOTAL, { onProgress: (i) => log(`  ${i}`) });
    log(`seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const results = [];
    const order = clients.length ? clients : [{ label: "current", dir: null }];
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of order) {
        if (c.dir) await useDist(server, c.dir);
        log(`client ${c.label}, round ${round + 1}`);
        results.push({ client: c.label, round: round + 1, levels: await measureClient(browser, server, chat) });
      }
    }
    if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(results, null, 2));
    console.log(table(results));
  } finally {
    await browser.close();
    await server.stop();
    if (backup) { rmSync(DIST, { recursive: true, force: true }); cpSync(backup, DIST, { recursive: true }); rmSync(resolve(backup, ".."), { recursive: true, force: true }); }
  }
}

/** Puts a client build in web/dist and checks the server now serves it (a release binary embeds its own). */
async function useDist(server, dir) {
  rmSync(DIST, { recursive: true, force: true });
  cpSync(dir, DIST, { recursive: true });
  const served = await (await fetch(`${server.url}/`, { headers: { "Accept-Encoding": "identity" } })).text();
  if (served !== readFileSync(join(dir, "index.html"), "utf8")) {
    throw new Error(`the server does not serve ${dir} (a release binary embeds its client: use a debug one to compare)`);
  }
}

async function measureClient(browser, server, chat) {
  const out = {};
  for (const level of LEVELS) {
    const u = await newUserPage(browser, server);
    const { page, context } = u;
    page.setDefaultTimeout(60_000);
    const cdp = await context.newCDPSession(page);
    await login(page, "alice");
    await openChatWith(page, "bob");
    await page.locator('.conn[data-state="online"]').waitFor();
    await page.locator(".timeline .msg").first().waitFor();
    await page.waitForTimeout(500);
    const r = { level };
    if (level > 50) {
      const l = await loadUntil(page, level >= TOTAL ? Infinity : level, CAP_MS);
      Object.assign(r, { loadMs: l.ms, loaded: l.loaded, reachedStart: l.reachedStart, capped: l.capped });
      log(`  loaded ${l.loaded} in ${(l.ms / 1000).toFixed(1)} s${l.reachedStart ? " (start reached)" : ""}`);
      await toBottom(page);
    } else {
      r.loaded = await loadedCount(page);
    }
    const own = [];
    const incoming = [];
    for (let i = 0; i < REPS; i++) {
      own.push(await ownSend(page, `own ${level} ${i} ${Math.random().toString(36).slice(2, 8)}`));
      await page.waitForTimeout(300);
      incoming.push(await incomingSend(page, chat, `incoming ${level} ${i} ${Math.random().toString(36).slice(2, 8)}`));
      await page.waitForTimeout(300);
    }
    r.ownMs = median(own);
    r.incomingMs = median(incoming);
    r.typingMs = await typing(page, 33);
    await cdp.send("HeapProfiler.collectGarbage");
    const heap = await cdp.send("Runtime.getHeapUsage");
    r.heapMB = heap.usedSize / 1048576;
    r.dom = await page.evaluate(() => document.getElementsByTagName("*").length);
    r.bubbles = await page.evaluate(() => document.querySelectorAll(".msg").length);
    r.errors = page.log.errors.length;
    log(`  ${JSON.stringify(r)}`);
    out[level] = r;
    await context.close();
  }
  return out;
}

function loadedCount(page) {
  return page.evaluate(() => {
    const tl = document.querySelector(".timeline");
    return Number(tl.dataset.loaded ?? tl.querySelectorAll(".msg").length);
  });
}

/** Scrolls to the top every frame until `n` messages are loaded (or the start, or the cap). */
function loadUntil(page, n, capMs) {
  return page.evaluate(async ({ n, capMs }) => {
    const tl = document.querySelector(".timeline");
    const loaded = () => Number(tl.dataset.loaded ?? tl.querySelectorAll(".msg").length);
    const start = () => document.querySelector(".timeline .beginning") !== null;
    const t0 = performance.now();
    while (loaded() < n && !start() && performance.now() - t0 < capMs) {
      tl.scrollTop = 0;
      await new Promise((r) => requestAnimationFrame(r));
    }
    const ms = performance.now() - t0;
    return { loaded: loaded(), ms, reachedStart: start(), capped: ms >= capMs };
  }, { n, capMs });
}

async function toBottom(page) {
  await page.evaluate(async () => {
    const tl = document.querySelector(".timeline");
    for (let i = 0; i < 60; i++) {
      tl.scrollTop = tl.scrollHeight;
      await new Promise((r) => requestAnimationFrame(r));
      if (tl.scrollHeight - tl.scrollTop - tl.clientHeight < 4) break;
    }
  });
  await page.waitForTimeout(500);
}

/** In the page: resolves with the time of the frame after the one where `text`'s bubble was in view. */
const WAIT_VISIBLE = `(text, t0) => new Promise((resolve) => {
  const tl = document.querySelector(".timeline");
  const seen = () => {
    const els = tl.querySelectorAll(".msg");
    for (let i = els.length - 1; i >= Math.max(0, els.length - 8); i--) {
      if (els[i].textContent.includes(text)) {
        const r = els[i].getBoundingClientRect(), b = tl.getBoundingClientRect();
        return r.bottom > b.top && r.top < b.bottom;
      }
    }
    return false;
  };
  const frame = () => {
    if (seen()) requestAnimationFrame(() => resolve(performance.now() - t0));
    else if (performance.now() - t0 > 60000) resolve(NaN);
    else requestAnimationFrame(frame);
  };
  frame();
})`;

async function ownSend(page, text) {
  await page.locator(".composer-input").fill(text);
  await page.waitForTimeout(100);
  return page.evaluate(`(async () => {
    const ta = document.querySelector(".composer-input");
    const t0 = performance.now();
    ta.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
    return (${WAIT_VISIBLE})(${JSON.stringify(text)}, t0);
  })()`);
}

async function incomingSend(page, chat, text) {
  return page.evaluate(`(async () => {
    const t0 = performance.now();
    const wait = (${WAIT_VISIBLE})(${JSON.stringify(text)}, t0);
    await fetch("/api/v1/conversations/${chat.conv}/messages", {
      method: "POST", headers: { "Content-Type": "application/json", Authorization: "Bearer ${chat.b.token}" },
      body: JSON.stringify({ client_msg_id: "b-" + Math.random().toString(36).slice(2), content: { kind: "text", text: ${JSON.stringify(text)} } }),
    });
    return wait;
  })()`);
}

/**
 * Types `n` characters as input events; for each, the work until the update is laid
 * out (the input handler, the re-render it causes and a forced layout). Frames are let
 * through between keys but not counted: the sum is the main-thread cost of the typing.
 */
async function typing(page, n) {
  await page.locator(".composer-input").fill("");
  const ms = await page.evaluate(async (n) => {
    const ta = document.querySelector(".composer-input");
    ta.focus();
    let total = 0;
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      ta.value += String.fromCharCode(97 + (i % 26));
      ta.dispatchEvent(new InputEvent("input", { bubbles: true, inputType: "insertText", data: "x" }));
      await new Promise((r) => setTimeout(r, 0));
      void document.body.offsetHeight;
      total += performance.now() - t;
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    }
    return total;
  }, n);
  await page.locator(".composer-input").fill("");
  return ms;
}

function table(results) {
  const fmt = (v, d = 0) => (v === undefined || Number.isNaN(v) ? "–" : v.toFixed(d));
  const rows = [
    "| client | loaded (target → reached) | time to load by scrolling up | own message shown | incoming message shown | typing 33 chars (main-thread work) | JS heap after GC | DOM elements | bubbles in DOM |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of results) {
    for (const level of LEVELS) {
      const x = r.levels[level];
      const target = level >= TOTAL ? `${TOTAL} (start)` : String(level);
      const load = x.loadMs === undefined ? "–" : `${(x.loadMs / 1000).toFixed(1)} s${x.capped ? " (capped, not reached)" : ""}`;
      rows.push(`| ${r.client}${ROUNDS > 1 ? ` #${r.round}` : ""} | ${target} → ${x.loaded} | ${load} | ${fmt(x.ownMs)} ms | ${fmt(x.incomingMs)} ms | ${fmt(x.typingMs)} ms | ${fmt(x.heapMB, 1)} MB | ${x.dom} | ${x.bubbles} |`);
    }
  }
  return rows.join("\n");
}

if (!existsSync(DIST) && !clients.length) log(`note: ${DIST} does not exist`);
await main();
