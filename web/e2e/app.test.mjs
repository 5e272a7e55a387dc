// End-to-end tests of the web client in headless Chromium against real `natter serve` processes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  befriend, convEntry, cspViolations, launchBrowser, login, newUserPage, openChatWith, register, sendMessage, shot, startServer,
} from "./harness.mjs";
import { BEACON, XSS_PAYLOADS } from "./xss-corpus.mjs";

const PHONE = { width: 360, height: 740 };
let server, browser;
const users = {};

async function user(name, opts) {
  const u = await newUserPage(browser, server, opts);
  u.page.setDefaultTimeout(10_000);
  users[name] = u;
  return u;
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe("chat between people", () => {
  it("shows the login screen in English and Chinese", async () => {
    const { page } = await user("guest", { locale: "zh-CN" });
    await page.goto("/");
    await page.getByRole("button", { name: "登录" }).waitFor();
    await shot(page, "login-desktop-zh");
    await page.locator(".lang-switch select").selectOption("en");
    await page.getByRole("button", { name: "Log in" }).waitFor();
    await shot(page, "login-desktop-en");
    await page.setViewportSize(PHONE);
    await shot(page, "login-phone-en");
  });

  it("explains registration and login errors", async () => {
    const { page } = users.guest;
    await page.goto("/");
    await page.getByRole("button", { name: /New here/ }).click();
    await page.locator('input[name="username"]').fill("shorty");
    await page.locator('input[name="password"]').fill("short");
    await page.locator("form button[type=submit]").click();
    await page.getByRole("alert").getByText("Passwords have at least 8 characters.").waitFor();
    // The server says which rule a password broke, and the client explains it.
    await page.locator('input[name="password"]').fill("Password1!");
    await page.locator("form button[type=submit]").click();
    await page.getByRole("alert").getByText(/among the first ones attackers try/).waitFor();
    await page.locator('input[name="password"]').fill("shorty2026");
    await page.locator("form button[type=submit]").click();
    await page.getByRole("alert").getByText(/made from your username/).waitFor();
    await page.getByRole("button", { name: /Already have an account/ }).click();
    await page.locator('input[name="username"]').fill("nobody");
    await page.locator('input[name="password"]').fill("wrong password");
    await page.locator("form button[type=submit]").click();
    await page.getByRole("alert").getByText("Wrong username or password.").waitFor();
  });

  it("two people register and become friends, seeing requests live", async () => {
    const a = await user("alice");
    const b = await user("bob");
    await register(a.page, "alice", undefined, "Alice Liddell");
    await register(b.page, "bob");
    // A taken name is explained.
    const { page: g } = users.guest;
    await g.goto("/");
    await g.getByRole("button", { name: /New here/ }).click();
    await g.locator('input[name="username"]').fill("ALICE");
    await g.locator('input[name="password"]').fill("long enough password");
    await g.locator("form button[type=submit]").click();
    await g.getByRole("alert").getByText("That username is taken.").waitFor();

    await b.page.goto("/#/contacts");
    await befriend(a.page, b.page, "bob");
    // Alice sees the acceptance live: bob is now in her friend list, the outgoing request gone.
    await a.page.locator('.friend[data-user="bob"]').waitFor();
    assert.equal(await a.page.locator(".request").count(), 0);
    await shot(a.page, "contacts-desktop-en");
  });

  it("chat both ways in real time, with optimistic sends", async () => {
    const { page: a } = users.alice;
    const { page: b } = users.bob;
    await openChatWith(a, "bob");
    await openChatWith(b, "Alice Liddell");
    await sendMessage(a, "Hello Bob 👋");
    // Shown at once, then confirmed (never twice).
    await a.locator(".msg.mine", { hasText: "Hello Bob 👋" }).waitFor();
    await a.locator('.msg.mine[data-state="sent"]', { hasText: "Hello Bob 👋" }).waitFor();
    await b.locator(".msg.theirs", { hasText: "Hello Bob 👋" }).waitFor();
    await sendMessage(b, "Hi Alice!\nHow are you?");
    await a.locator(".msg.theirs", { hasText: "How are you?" }).waitFor();
    assert.equal(await a.locator(".msg", { hasText: "Hello Bob 👋" }).count(), 1);
    // Shift+Enter adds a line instead of sending.
    await b.locator(".composer-input").fill("line one");
    await b.locator(".composer-input").press("Shift+Enter");
    await b.locator(".composer-input").type("line two");
    assert.equal(await b.locator(".composer-input").inputValue(), "line one\nline two");
    await b.locator(".composer-input").press("Enter");
    await a.locator(".msg.theirs .text", { hasText: "line two" }).waitFor();
    assert.equal(await a.locator(".msg.theirs .text", { hasText: "line two" }).innerText(), "line one\nline two");
  });

  it("shows typing, presence and read receipts", async () => {
    const { page: a } = users.alice;
    const { page: b } = users.bob;
    await b.locator(".composer-input").type("typing something");
    await a.locator(".typing", { hasText: "is typing" }).waitFor();
    await a.locator('.chat-sub[data-presence="online"]').waitFor();
    // Bob has the chat open at the bottom, so Alice's message turns read.
    await a.locator('.msg.mine .status[data-status="read"]').first().waitFor();
    await b.locator(".composer-input").fill("");
    await shot(a, "chat-desktop-en");
  });

  it("keeps a draft per conversation and offers emoji and safe links", async () => {
    const { page: a } = users.alice;
    await a.locator(".composer-input").fill("draft text");
    await a.goto("/#/contacts");
    await openChatWith(a, "bob");
    assert.equal(await a.locator(".composer-input").inputValue(), "draft text");
    await a.getByRole("button", { name: "Emoji" }).click();
    await a.locator(".emoji-picker .emoji").first().click();
    assert.match(await a.locator(".composer-input").inputValue(), /^draft text😀$/u);
    await a.locator(".composer-input").fill("see https://example.com/page");
    await a.locator(".composer-input").press("Enter");
    const link = a.locator(".msg.mine a", { hasText: "https://example.com/page" });
    await link.waitFor();
    assert.equal(await link.getAttribute("target"), "_blank");
    assert.match(await link.getAttribute("rel"), /noopener/);
  });

  it("a reload keeps the history", async () => {
    const { page: a } = users.alice;
    await a.reload();
    await a.locator(".msg", { hasText: "Hello Bob 👋" }).waitFor();
    await a.locator(".msg", { hasText: "How are you?" }).waitFor();
  });

  it("notifies and badges the title while the tab is in the background", async () => {
    const { page: a } = users.alice;
    // Bob on a second device whose tab is hidden and who allowed notifications.
    const bg = await user("bobInBackground");
    await bg.context.addInitScript(() => {
      window.__notes = [];
      window.Notification = class {
        static permission = "granted";
        static requestPermission() { return Promise.resolve("granted"); }
        constructor(title, options) { window.__notes.push({ title, body: options?.body ?? "" }); }
        close() {}
      };
      Object.defineProperty(document, "visibilityState", { get: () => "hidden" });
    });
    try {
      await login(bg.page, "bob");
      await bg.page.locator('.conn[data-state="online"]').waitFor();
      // The list is loaded (the first sync is done): what comes now is live.
      await convEntry(bg.page, "Alice Liddell").waitFor();
      // Bob's first device looks elsewhere, so nothing reads the message at once.
      await users.bob.page.goto("/#/contacts");
      await openChatWith(a, "bob");
      await sendMessage(a, "ping while you look away");
      await bg.page.waitForFunction(() =>
        window.__notes.some((n) => n.body === "ping while you look away" && /alice/i.test(n.title)));
      await bg.page.waitForFunction(() => /^\(\d+\) /.test(document.title));
    } finally {
      // Bob's other tests expect this second device gone (presence goes offline).
      await bg.context.close();
    }
  });

  it("a user who was offline catches up, with unread badges", async () => {
    const { page: a } = users.alice;
    const b = users.bob;
    await b.page.close();
    await a.locator('.chat-sub[data-presence="offline"]').waitFor();
    for (const text of ["while you were away 1", "while you were away 2", "while you were away 3"]) {
      await sendMessage(a, text);
      await a.locator('.msg.mine[data-state="sent"]', { hasText: text }).waitFor();
    }
    const page = await b.context.newPage();
    page.setDefaultTimeout(10_000);
    page.log = b.page.log;
    b.page = page;
    page.on("console", (m) => { if (/Content Security Policy|Trusted Type/i.test(m.text())) b.log.csp.push(m.text()); });
    await page.goto("/#/");
    const conv = convEntry(page, "Alice Liddell");
    // The cached list may show an older badge until the catch-up lands.
    await conv.locator(".badge", { hasText: /^([3-9]|\d\d+|99\+)$/ }).waitFor();
    assert.ok(Number((await conv.locator(".badge").innerText()).replace("+", "")) >= 3);
    await conv.click();
    for (const i of [1, 2, 3]) await page.locator(".msg.theirs", { hasText: `while you were away ${i}` }).waitFor();
    await page.locator(".new-marker").waitFor();
  });

  it("a send during a server outage is retried with the same id and shows once", async () => {
    const { page: a } = users.alice;
    const { page: b } = users.bob;
    await server.restart(async () => {
      await a.locator('.conn[data-state="connecting"]').waitFor();
      await sendMessage(a, "sent during the outage");
      await a.locator('.msg.mine[data-state="pending"]', { hasText: "sent during the outage" }).waitFor();
    });
    await a.locator('.conn[data-state="online"]').waitFor({ timeout: 20_000 });
    await a.locator('.msg.mine[data-state="sent"]', { hasText: "sent during the outage" }).waitFor({ timeout: 20_000 });
    await b.locator(".msg.theirs", { hasText: "sent during the outage" }).waitFor({ timeout: 20_000 });
    assert.equal(await b.locator(".msg", { hasText: "sent during the outage" }).count(), 1);
    assert.equal(await a.locator(".msg", { hasText: "sent during the outage" }).count(), 1);
  });

  it("opens from its cache, read-only, while the server is down", async () => {
    const { page: a } = users.alice;
    await server.restart(async () => {
      // A reload with the server gone: the service worker serves the app, and the
      // conversation list and history come from IndexedDB.
      await a.reload();
      await a.locator('.conn[data-state="connecting"]').waitFor();
      await openChatWith(a, "bob");
      await a.locator(".msg", { hasText: "sent during the outage" }).waitFor();
      // Bob's presence is unknown while disconnected, not the stale "online".
      await a.locator('.chat-sub[data-presence="unknown"]').waitFor({ state: "attached" });
      await shot(a, "offline-desktop-en");
    });
    await a.locator('.conn[data-state="online"]').waitFor({ timeout: 20_000 });
  });

  it("a third person joins a group; roles limit what each can do", async () => {
    const c = await user("carol");
    await register(c.page, "carol");
    const { page: a } = users.alice;
    const { page: b } = users.bob;
    await befriend(c.page, a, "alice");
    await a.goto("/#/contacts");
    await a.getByRole("button", { name: "New group" }).click();
    await a.locator(".new-group").getByLabel("Group name").fill("Book club");
    await a.locator(".new-group label.check", { hasText: "bob" }).click();
    await a.locator(".new-group label.check", { hasText: "carol" }).click();
    await a.locator(".new-group").getByRole("button", { name: "Create" }).click();
    await a.locator(".chat-title h2", { hasText: "Book club" }).waitFor();
    await a.locator(".system-msg", { hasText: "You created the group" }).waitFor();
    // Carol sees the new group live and speaks in it; the others see her name on the bubble.
    await c.page.goto("/#/");
    await convEntry(c.page, "Book club").click();
    await c.page.locator(".system-msg", { hasText: "added" }).waitFor();
    await sendMessage(c.page, "Hi everyone, carol here");
    await a.locator(".msg.theirs", { hasText: "carol here" }).locator(".sender", { hasText: "carol" }).waitFor();
    await b.goto("/#/");
    await convEntry(b, "Book club").click();
    await b.locator(".msg.theirs", { hasText: "carol here" }).waitFor();
    // The owner renames; everyone sees the system event.
    await a.goto(`${new URL(a.url()).hash}/info`.replace(/^/, "/"));
    await a.locator(".info").getByLabel("Group name").fill("Book club 📚");
    await a.locator(".info").getByRole("button", { name: "Rename" }).click();
    await b.locator(".system-msg", { hasText: "renamed the group to “Book club 📚”" }).waitFor();
    await c.page.locator(".chat-title h2", { hasText: "Book club 📚" }).waitFor();
    await a.locator('.member[data-user="bob"]').getByRole("button", { name: "Make admin" }).waitFor();
    await shot(a, "group-info-desktop-en");
    // A member can neither rename nor remove anyone.
    await c.page.goto(`/${new URL(c.page.url()).hash}/info`);
    await c.page.locator('.member[data-user="alice"]').waitFor();
    assert.equal(await c.page.locator(".info").getByRole("button", { name: "Rename" }).count(), 0);
    assert.equal(await c.page.locator(".info").getByRole("button", { name: "Remove" }).count(), 0);
    // The owner promotes bob; bob's view shows the change.
    await a.locator('.member[data-user="bob"]').getByRole("button", { name: "Make admin" }).click();
    await a.locator(".system-msg", { hasText: "You made bob Admin" }).waitFor();
    await b.locator(".system-msg", { hasText: "made You Admin" }).waitFor();
  });

  it("switching to Chinese changes the interface text", async () => {
    const { page: a } = users.alice;
    await a.goto("/#/settings");
    await a.locator('select[name="language"]').selectOption("zh-CN");
    await a.locator(".sidebar-title", { hasText: "设置" }).waitFor();
    await a.locator('.rail-tab[data-tab="chats"]', { hasText: "聊天" }).waitFor();
    assert.equal(await a.evaluate(() => document.documentElement.lang), "zh-CN");
    await shot(a, "settings-desktop-zh");
    await a.goto("/#/");
    await convEntry(a, "bob").click();
    await a.locator(".composer-input[placeholder='输入消息']").waitFor();
    await shot(a, "chat-desktop-zh");
    await a.locator('.rail-tab[data-tab="contacts"]').click();
    await a.locator(".sidebar-title", { hasText: "通讯录" }).waitFor();
    await shot(a, "contacts-desktop-zh");
    // Dark theme.
    await a.goto("/#/settings");
    await a.locator('select[name="theme"]').selectOption("dark");
    assert.equal(await a.evaluate(() => document.documentElement.dataset.theme), "dark");
    await a.goto("/#/");
    await convEntry(a, "Book club 📚").click();
    await a.locator(".msg").first().waitFor();
    await shot(a, "group-desktop-zh-dark");
    await a.goto("/#/settings");
    await a.locator('select[name="theme"]').selectOption("light");
    await a.locator('select[name="language"]').selectOption("en");
  });

  it("looks right on a phone: one pane with navigation", async () => {
    for (const lang of ["en", "zh-CN"]) {
      const tag = lang === "en" ? "en" : "zh";
      const p = await newUserPage(browser, server, { viewport: PHONE, locale: lang });
      const page = p.page;
      page.setDefaultTimeout(10_000);
      await login(page, "bob");
      await page.locator(".conv").first().waitFor();
      assert.equal(await page.locator(".main").isVisible(), false);
      await shot(page, `list-phone-${tag}`);
      await convEntry(page, "Alice Liddell").click();
      await page.locator(".composer-input").waitFor();
      assert.equal(await page.locator(".sidebar").isVisible(), false);
      await page.locator(".msg").first().waitFor();
      await shot(page, `chat-phone-${tag}`);
      await page.locator(".chat-head .back").click();
      await page.locator(".conv").first().waitFor();
      await page.locator('.rail-tab[data-tab="contacts"]').click();
      await page.locator(".friend").first().waitFor();
      await shot(page, `contacts-phone-${tag}`);
      await page.locator('.rail-tab[data-tab="settings"]').click();
      await page.locator('select[name="language"]').waitFor();
      await shot(page, `settings-phone-${tag}`);
      assert.deepEqual(await cspViolations(page), []);
      await p.context.close();
    }
  });
});

describe("long history", () => {
  it("loads older pages when scrolling up, without jumping", async () => {
    // Two users set up through the HTTP API, with 130 messages.
    const call = async (method, path, token, body) => {
      const r = await fetch(`${server.url}/api/v1${path}`, {
        method, headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { "Content-Type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      assert.ok(r.ok, `${method} ${path}: ${r.status}`);
      return r.json();
    };
    const pw = "correct horse battery";
    const dan = await call("POST", "/auth/register", null, { username: "dan", password: pw });
    await call("POST", "/auth/register", null, { username: "erin", password: pw });
    const dt = (await call("POST", "/auth/login", null, { username: "dan", password: pw })).token;
    const et = (await call("POST", "/auth/login", null, { username: "erin", password: pw })).token;
    const req = await call("POST", "/friend-requests", et, { user_id: dan.id, greeting: "hi" });
    const friend = await call("POST", `/friend-requests/${req.request.id}/accept`, dt);
    for (let i = 1; i <= 130; i++) {
      await call("POST", `/conversations/${friend.conversation_id}/messages`, i % 2 ? et : dt, {
        client_msg_id: `hist-${i}`, content: { kind: "text", text: `history message ${i}` },
      });
    }
    const { page, context } = await newUserPage(browser, server);
    page.setDefaultTimeout(10_000);
    await login(page, "dan");
    await openChatWith(page, "erin");
    await page.locator(".msg .text", { hasText: /^history message 130$/ }).waitFor();
    assert.equal(await page.locator(".msg .text", { hasText: /^history message 1$/ }).count(), 0);
    // Scroll to the top: an older page is prepended and the message in view stays in view.
    // (The timeline is virtualized: only the rows near the view are in the DOM.)
    const bubble = (n) => page.locator(".msg .text", { hasText: new RegExp(`^history message ${n}$`) });
    // Let the opening scroll to the newest message settle (rows are measured as they mount).
    await page.waitForTimeout(300);
    // The newest 50 come first (81–130); older pages hold 100 (state/timelines.ts OLDER_PAGE).
    for (let first = 81; first > 1; first = Math.max(1, first - 100)) {
      await page.locator(".timeline").evaluate((el) => { el.scrollTop = 0; });
      await bubble(first - 1).waitFor({ state: "attached" });
      const box = await bubble(first).boundingBox();
      // The old first message is still on screen (not jumped away from).
      assert.ok(box && box.y > 0 && box.y < 800, `anchor visible after loading older: ${JSON.stringify(box)}`);
    }
    await page.locator(".beginning").waitFor();
    await page.locator(".timeline").evaluate((el) => { el.scrollTop = 0; });
    await bubble(1).waitFor();
    assert.ok(await page.locator(".msg").count() < 130, "only the rows near the view are rendered");
    await context.close();
  });
});

describe("security", () => {
  it("W1: an XSS corpus renders as text, runs nothing, sends no beacon", async () => {
    const { page: a } = users.alice;
    const { page: b } = users.bob;
    await openChatWith(a, "bob");
    await openChatWith(b, "Alice Liddell");
    const beaconsBefore = b.log.requests.filter((u) => u.startsWith(BEACON)).length;
    for (const p of XSS_PAYLOADS) {
      await a.locator(".composer-input").fill(p);
      await a.locator(".composer-input").press("Enter");
    }
    const last = XSS_PAYLOADS[XSS_PAYLOADS.length - 1];
    await b.locator(".msg.theirs .text", { hasText: last }).waitFor();
    await a.locator('.msg.mine[data-state="sent"] .text', { hasText: last }).waitFor();
    for (const page of [a, b]) {
      // The timeline is virtualized: collect what each part of it shows, scrolling up from the end.
      const texts = new Set();
      await page.locator(".timeline").evaluate((el) => { el.scrollTop = el.scrollHeight; });
      for (let step = 0; step < 60; step++) {
        await page.waitForTimeout(50);
        for (const x of await page.locator(".msg .text").allTextContents()) texts.add(x);
        if (XSS_PAYLOADS.every((p) => texts.has(p))) break;
        await page.locator(".timeline").evaluate((el) => { el.scrollTop = Math.max(0, el.scrollTop - el.clientHeight / 2); });
      }
      await page.locator(".timeline").evaluate((el) => { el.scrollTop = el.scrollHeight; });
      for (const p of XSS_PAYLOADS) assert.ok(texts.has(p), `shown as text: ${p}`);
      // No element a payload could have injected exists in the timeline.
      assert.equal(await page.locator(".timeline script, .timeline img, .timeline iframe, .timeline svg:not(.icon), .timeline object, .timeline embed, .timeline style, .timeline input, .timeline form, .timeline base, .timeline meta, .timeline link").count(), 0);
      // Only http(s) links.
      const hrefs = await page.locator(".timeline a").evaluateAll((as) => as.map((x) => x.getAttribute("href")));
      for (const h of hrefs) assert.match(h, /^https?:\/\//);
      assert.equal(await page.evaluate(() => window.__pwned ?? null), null);
      assert.deepEqual(page.log.dialogs, []);
      assert.deepEqual(page.log.errors, []);
    }
    // The conversation list preview shows the last payload as text too.
    await b.goto("/#/");
    await b.locator(".conv-preview", { hasText: last.slice(0, 10) }).first().waitFor();
    await openChatWith(b, "Alice Liddell");
    // A direction override in a message reorders nothing outside its bubble.
    const override = "see invoice\u202Etxt.exe";
    await a.locator(".composer-input").fill(override);
    await a.locator(".composer-input").press("Enter");
    const bubble = b.locator(".msg.theirs .text", { hasText: "see invoice" });
    await bubble.waitFor();
    assert.equal(await bubble.evaluate((el) => getComputedStyle(el).unicodeBidi), "plaintext");
    // Names and previews in the list are isolated too.
    await b.goto("/#/");
    for (const cls of [".conv-name", ".conv-preview"]) {
      const bidi = await b.locator(cls).first().evaluate((el) => getComputedStyle(el).unicodeBidi);
      assert.equal(bidi, "isolate", cls);
    }
    await b.locator(".conv-preview", { hasText: "see invoice" }).first().waitFor();
    assert.equal(b.log.requests.filter((u) => u.startsWith(BEACON)).length, beaconsBefore);
    assert.equal(a.log.requests.filter((u) => u.startsWith(BEACON)).length, 0);
  });

  it("W1: payloads in display names and group names are text too", async () => {
    const evil = await user("mallory");
    const name = `<img src=x onerror=alert(1)>"'`;
    await register(evil.page, "mallory", undefined, name);
    await befriend(evil.page, users.alice.page, "alice");
    const { page: a } = users.alice;
    await a.locator('.friend[data-user="mallory"] .person-name', { hasText: name }).waitFor();
    await a.goto("/#/contacts");
    await a.getByRole("button", { name: "New group" }).click();
    const gname = `<script>alert(1)</script>`;
    await a.locator(".new-group").getByLabel("Group name").fill(gname);
    await a.locator(".new-group label.check", { hasText: name }).click();
    await a.locator(".new-group").getByRole("button", { name: "Create" }).click();
    await a.locator(".chat-title h2", { hasText: gname }).waitFor();
    await evil.page.goto("/#/");
    await evil.page.locator(".conv-name", { hasText: gname }).waitFor();
    await evil.page.locator(".conv", { hasText: gname }).click();
    await evil.page.locator(".system-msg", { hasText: "added You" }).waitFor();
    await a.locator(".system-msg", { hasText: `added ${name}` }).waitFor();
    for (const page of [a, evil.page]) {
      assert.equal(await page.locator("main script, main img:not([src^='/icons/'])").count(), 0);
      assert.deepEqual(page.log.dialogs, []);
    }
  });

  it("W2: inline script and innerHTML sinks are blocked and reported", async () => {
    const { page, context } = await newUserPage(browser, server);
    await page.goto("/");
    await page.locator("form").waitFor();
    const result = await page.evaluate(() => {
      const out = {};
      try { document.body.insertAdjacentHTML("beforeend", "<img src=x onerror='window.__pwned=1'>"); out.html = "allowed"; } catch (e) { out.html = e.name; }
      const s = document.createElement("script");
      try { s.textContent = "window.__pwned = 2"; document.body.append(s); out.script = "appended"; } catch (e) { out.script = e.name; }
      return out;
    });
    assert.equal(result.html, "TypeError");
    assert.equal(await page.evaluate(() => window.__pwned ?? null), null);
    // Chromium reports each blocked sink as a violation.
    await page.waitForFunction(() => window.__csp.length > 0);
    const v = await cspViolations(page);
    assert.ok(v.some((x) => /trusted-types|require-trusted-types/.test(x)), v.join("\n"));
    await context.close();
  });

  it("W2: a normal run produced no CSP or Trusted Types violation", async () => {
    for (const [name, u] of Object.entries(users)) {
      if (u.page.isClosed()) continue;
      assert.deepEqual(await cspViolations(u.page), [], `violations for ${name}`);
    }
  });

  it("W4: logging out leaves nothing in localStorage, IndexedDB or cookies but the device's language and theme", async () => {
    const { page, context } = users.bob;
    await page.goto("/#/settings");
    await page.locator('select[name="theme"]').selectOption("dark");
    assert.ok((await page.evaluate(() => indexedDB.databases())).some((d) => d.name === "natter"));
    await page.goto("/#/settings");
    await page.getByRole("button", { name: "Log out" }).click();
    await page.locator('input[name="username"]').waitFor();
    const state = await page.evaluate(async () => ({
      local: Object.keys(localStorage),
      prefs: JSON.parse(localStorage.getItem("natter.prefs") ?? "null"),
      session: sessionStorage.length,
      dbs: (await indexedDB.databases()).map((d) => d.name),
      cookies: document.cookie,
    }));
    assert.deepEqual(state, { local: ["natter.prefs"], prefs: { lang: "en", theme: "dark" }, session: 0, dbs: [], cookies: "" });
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
    assert.deepEqual(await context.cookies(), []);
    // After a reload nothing comes back either, and the old session is gone.
    await page.reload();
    await page.locator('input[name="username"]').waitFor();
    assert.deepEqual(await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name)), []);
  });
});
