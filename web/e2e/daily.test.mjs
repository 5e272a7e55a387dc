// What daily use ran into: being logged out or removed without a word, actions
// that did not ask first, a badge that said "Connected" on a dead network, a
// password refusal that did not say which rule, a Chinese list joined with an
// English comma, and a time printed twice.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { api, twoFriends } from "../bench/seed.mjs";
import { login, launchBrowser, newUserPage, openChatWith, startServer } from "./harness.mjs";

let server, browser, chat, call;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  chat = await twoFriends(server, "dora", "eli");
  call = api(server);
  // A third friend of dora's, so that a group's creation names a list of people.
  const fay = await call("POST", "/auth/register", null, { username: "fay", password: chat.password });
  const fayToken = (await call("POST", "/auth/login", null, { username: "fay", password: chat.password })).token;
  const asked = await call("POST", "/friend-requests", fayToken, { user_id: chat.a.id, greeting: "hi" });
  await call("POST", `/friend-requests/${asked.request.id}/accept`, chat.a.token);
  chat.fay = fay;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function open(username, opts = {}) {
  const u = await newUserPage(browser, server, opts);
  u.page.setDefaultTimeout(10_000);
  await login(u.page, username, chat.password);
  await u.page.locator('.conn[data-state="online"]').waitFor();
  return u;
}

describe("daily use", () => {
  it("revoking another device asks first, and that device is told why it is logged out", async () => {
    const laptop = await open("dora");
    const phone = await open("dora", {
      userAgent: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36",
    });
    await laptop.page.goto("/#/settings");
    const other = laptop.page.locator(".device", { hasText: "Chrome on Android" });
    await other.waitFor();
    const before = await laptop.page.locator(".device").count();
    await other.getByRole("button", { name: "Revoke" }).click();
    // Nothing happens before the confirmation.
    await laptop.page.getByRole("group", { name: /Log out/ }).waitFor();
    assert.equal(await laptop.page.locator(".device").count(), before);
    await laptop.page.getByRole("group", { name: /Log out/ }).getByRole("button", { name: "Revoke" }).click();
    await phone.page.locator('[data-notice="auth"]').waitFor();
    assert.match(await phone.page.locator('[data-notice="auth"]').innerText(), /logged out from another device/);
    await laptop.context.close();
    await phone.context.close();
  });

  it("kicking asks first; the member removed is told, and a Chinese list has no English comma", async () => {
    const group = await call("POST", "/groups", chat.a.token, { name: "Hiking", members: [chat.b.id, chat.fay.id] });
    const owner = await open("dora");
    const member = await open("eli", { locale: "zh-CN" });
    await member.page.goto(`/#/chat/${group.id}`);
    // "邀请了 你和fay" as Chinese writes lists (the system message of the creation).
    const system = member.page.locator(".system-msg", { hasText: "fay" }).first();
    await system.waitFor();
    const sentence = await system.innerText();
    assert.doesNotMatch(sentence, /,/, sentence);
    assert.match(sentence, /你和 ?fay|fay和 ?你|你、|、你/, sentence);

    await owner.page.goto(`/#/chat/${group.id}/info`);
    const row = owner.page.locator('.member[data-user="eli"]');
    await row.getByRole("button", { name: "Remove" }).click();
    const confirm = row.getByRole("group", { name: /Remove eli from the group/ });
    await confirm.waitFor();
    await confirm.getByRole("button", { name: "Remove" }).click();
    await member.page.locator('[data-notice="shell"]').waitFor();
    assert.match(await member.page.locator('[data-notice="shell"]').innerText(), /你已被移出“Hiking”/);
    await owner.context.close();
    await member.context.close();
  });

  it("the badge stops saying Connected when the network is cut with a message pending", async () => {
    const u = await open("dora");
    await openChatWith(u.page, "eli");
    await u.context.setOffline(true);
    await u.page.locator(".composer-input").fill("sent into the void");
    await u.page.locator(".composer-input").press("Enter");
    // The socket's own silence decides, not the browser's idea of the socket.
    await u.page.locator('.conn:not([data-state="online"])').waitFor({ timeout: 8_000 });
    assert.equal(await u.page.locator('.conn [role="status"]').count(), 1);
    assert.equal(await u.page.locator('button[role="status"]').count(), 0);
    await u.context.setOffline(false);
    await u.page.locator('.conn[data-state="online"]').waitFor({ timeout: 40_000 });
    await u.page.locator(".msg.mine .text", { hasText: "sent into the void" }).waitFor();
    await u.context.close();
  });

  it("a refused new password says which rule, and device times are said once", async () => {
    const u = await open("eli");
    await u.page.goto("/#/settings");
    await u.page.locator('input[autocomplete="current-password"]').fill(chat.password);
    await u.page.locator('input[autocomplete="new-password"]').fill("short");
    await u.page.getByRole("button", { name: "Change password" }).last().click();
    await u.page.getByText("Passwords have at least 8 characters.").waitFor();
    await u.page.locator('input[autocomplete="new-password"]').fill("password123");
    await u.page.getByRole("button", { name: "Change password" }).last().click();
    await u.page.getByText(/among the first ones attackers try/).waitFor();

    const when = await u.page.locator(".device .small").first().innerText();
    const time = when.match(/\d{1,2}:\d{2}/g) ?? [];
    assert.equal(time.length, 1, `a time printed once: "${when}"`);
    await u.context.close();
  });

  it("a friend's new display name shows at once, in the list and the open chat", async () => {
    const u = await open("dora");
    await openChatWith(u.page, "eli");
    await call("PATCH", "/me", chat.b.token, { display_name: "Eli 伊莱" });
    await u.page.locator(".conv-name", { hasText: /^Eli 伊莱$/ }).waitFor();
    await u.page.locator(".chat-title", { hasText: "Eli 伊莱" }).waitFor();
    await call("PATCH", "/me", chat.b.token, { display_name: "eli" });
    await u.context.close();
  });

  it("'last seen' says its time once", async () => {
    const dora = await open("dora");
    await openChatWith(dora.page, "eli");
    const eli = await open("eli");
    await dora.page.locator('.chat-sub[data-presence="online"]').waitFor();
    await eli.context.close();
    const sub = dora.page.locator('.chat-sub[data-presence="offline"]');
    await sub.waitFor({ timeout: 20_000 });
    const text = await sub.innerText();
    assert.match(text, /last seen/);
    assert.equal((text.match(/\d{1,2}:\d{2}/g) ?? []).length, 1, text);
    await dora.context.close();
  });

  it("language and theme stay after logout", async () => {
    const u = await open("dora");
    await u.page.goto("/#/settings");
    await u.page.locator('select[name="language"]').selectOption("zh-CN");
    await u.page.locator('select[name="theme"]').selectOption("dark");
    await u.page.getByRole("button", { name: "退出登录" }).click();
    await u.page.getByRole("button", { name: "登录" }).waitFor();
    assert.equal(await u.page.evaluate(() => document.documentElement.dataset.theme), "dark");
    await u.page.reload();
    await u.page.getByRole("button", { name: "登录" }).waitFor();
    assert.equal(await u.page.evaluate(() => document.documentElement.dataset.theme), "dark");
    await u.context.close();
  });
});
