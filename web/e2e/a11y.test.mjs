// Accessibility: axe-core on every main screen, desktop and phone, light and dark,
// English and Chinese. No serious or critical violation may appear.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import { twoFriends } from "../bench/seed.mjs";
import { launchBrowser, login, newUserPage, openChatWith, shot, startServer } from "./harness.mjs";

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const PHONE = { width: 360, height: 740 };
let server, browser, chat, group;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  chat = await twoFriends(server, "ada", "bao");
  const { call, a, b, conv } = chat;
  group = await call("POST", "/groups", a.token, { name: "读书会 Book club", members: [b.id] });
  let n = 0;
  const send = (who, id, text, extra = {}) =>
    call("POST", `/conversations/${id}/messages`, who.token, { client_msg_id: `a11y-${++n}`, content: { kind: "text", text }, ...extra });
  await send(a, conv, "Hello Bao 👋 https://example.com");
  const question = await send(b, conv, "你好！周末有空吗？");
  await send(a, conv, "Yes, Saturday works.", { reply_to: question.message.seq });
  await send(b, group.id, "Next book: 三体");
  await send(a, group.id, "Agreed!");
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The serious and critical violations axe finds on the page as it is now. */
async function violations(page) {
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const result = await globalThis.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
  });
  return found.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** Waits for the screen, then checks it; a failure names the screen and the rules. */
async function check(page, screen, ready) {
  await ready.waitFor();
  // Let transitions and live badges settle; axe reads computed colours.
  await page.waitForTimeout(300);
  const bad = await violations(page);
  if (bad.length) await shot(page, `a11y-${screen}`);
  assert.deepEqual(bad, [], `${screen}: ${JSON.stringify(bad, null, 2)}`);
}

for (const colorScheme of ["light", "dark"]) {
  for (const [layout, viewport] of [["desktop", { width: 1280, height: 800 }], ["phone", PHONE]]) {
    describe(`${layout}, ${colorScheme}`, () => {
      it("every main screen passes axe in English and Chinese", async () => {
        const locale = colorScheme === "light" ? "en-US" : "zh-CN";
        const { context, page } = await newUserPage(browser, server, { viewport, colorScheme, locale, bypassCSP: true });
        page.setDefaultTimeout(10_000);
        const tag = `${layout}-${colorScheme}`;

        await page.goto("/");
        await check(page, `${tag}-login`, page.locator('input[name="username"]'));

        await login(page, "ada", chat.password);
        await check(page, `${tag}-chats`, page.locator(".conv").first());

        await openChatWith(page, "bao");
        await check(page, `${tag}-direct`, page.locator(".msg").first());

        await page.goto(`/#/chat/${group.id}`);
        await check(page, `${tag}-group`, page.locator(".msg").first());
        await page.goto(`/#/chat/${group.id}/info`);
        await check(page, `${tag}-group-info`, page.locator(".member").first());

        await page.goto("/#/contacts");
        await check(page, `${tag}-contacts`, page.locator(".friend").first());

        await page.goto("/#/settings");
        await check(page, `${tag}-settings`, page.locator(".device").first());

        // The other language on the same screens' most text-heavy one.
        await page.locator('select[name="language"]').selectOption(locale === "en-US" ? "zh-CN" : "en");
        await check(page, `${tag}-settings-other-language`, page.locator(".device").first());
        await context.close();
      });
    });
  }
}
