// Test harness: real `natter serve` processes on free loopback ports with temp data dirs,
// and Debian's chromium driven by playwright-core (no browser download).
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export const ARTIFACTS = resolve(process.env.NATTER_E2E_ARTIFACTS ?? new URL("../test-results", import.meta.url).pathname);
mkdirSync(join(ARTIFACTS, "screenshots"), { recursive: true });

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

export async function startServer(extraArgs = []) {
  const bin = process.env.NATTER_BIN;
  if (!bin) throw new Error("set NATTER_BIN to a built natter binary");
  const data = mkdtempSync(join(tmpdir(), "natter-e2e-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let proc;
  const spawnServer = async () => {
    proc = spawn(resolve(bin), ["serve", "--data", data, "--listen", `127.0.0.1:${port}`, ...extraArgs], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
    });
    let stderr = "";
    proc.stderr.on("data", (d) => { stderr += d; });
    // Readiness is polled: the server offers no other signal to await.
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`natter exited: ${stderr}`);
      try {
        const r = await fetch(`${url}/healthz`);
        if (r.ok) return;
      } catch { /* not yet listening */ }
      if (Date.now() > deadline) throw new Error(`natter did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await exited;
    }
  };
  await spawnServer();
  return {
    url,
    /** Stops the server, runs `whileDown`, then starts it again on the same port and data. */
    async restart(whileDown = async () => {}) {
      await kill();
      try {
        await whileDown();
      } finally {
        await spawnServer();
      }
    },
    async stop() {
      await kill();
      rmSync(data, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-dev-shm-usage"],
  });
}

/**
 * A browser context (its own storage, like a separate person) with CSP/Trusted Types
 * violations, dialogs and page errors recorded.
 */
export async function newUserPage(browser, server, opts = {}) {
  const context = await browser.newContext({
    baseURL: server.url,
    viewport: opts.viewport ?? { width: 1280, height: 800 },
    locale: opts.locale ?? "en-US",
    serviceWorkers: opts.serviceWorkers ?? "allow",
    colorScheme: opts.colorScheme ?? "light",
    ...(opts.userAgent ? { userAgent: opts.userAgent } : {}),
    // Only the accessibility checker asks for this: it injects axe-core into the page.
    bypassCSP: opts.bypassCSP ?? false,
  });
  const page = await context.newPage();
  const log = { csp: [], dialogs: [], errors: [], requests: [] };
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample ?? ""}`);
    });
  });
  page.on("console", (m) => {
    const text = m.text();
    if (/Content Security Policy|Trusted Type/i.test(text)) log.csp.push(text);
  });
  page.on("dialog", (d) => { log.dialogs.push(d.message()); void d.dismiss(); });
  page.on("pageerror", (e) => log.errors.push(String(e)));
  context.on("request", (r) => { log.requests.push(r.url()); });
  page.log = log;
  return { context, page, log };
}

export async function cspViolations(page) {
  const inPage = await page.evaluate(() => window.__csp ?? []).catch(() => []);
  return [...inPage, ...page.log.csp];
}

export async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, "screenshots", `${name}.png`) });
}

export async function register(page, username, password = "correct horse battery", display) {
  await page.goto("/");
  await page.getByRole("button", { name: /New here|新用户/ }).click();
  await page.locator('input[name="username"]').fill(username);
  if (display) await page.locator('input[name="display_name"]').fill(display);
  await page.locator('input[name="password"]').fill(password);
  await page.locator("form button[type=submit]").click();
  await page.locator(".shell").waitFor();
  await page.locator('.conn[data-state="online"]').waitFor();
}

export async function login(page, username, password = "correct horse battery") {
  await page.goto("/");
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(password);
  await page.locator("form button[type=submit]").click();
  await page.locator(".shell").waitFor();
}

/** a sends a friend request to b from the Contacts screen; b accepts it live. */
export async function befriend(a, b, bName) {
  await a.goto("/#/contacts");
  await a.getByLabel(/Search by username|按用户名/).fill(bName);
  await a.locator('form[role="search"] button[type=submit]').click();
  const row = a.locator(`.person[data-user="${bName}"]`);
  await row.getByRole("button", { name: /Add friend|添加好友/ }).click();
  await row.getByRole("button", { name: /Send request|发送申请/ }).click();
  await row.getByText(/Request sent|已发送申请/).waitFor();
  await b.goto("/#/contacts");
  const req = b.locator(".request").first();
  await req.getByRole("button", { name: /Accept|接受/ }).click();
  await b.locator(`.friend[data-user]`).first().waitFor();
}

/** The conversation list entry whose title is exactly `title`. */
export function convEntry(page, title) {
  const esc = title.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return page.locator(".conv").filter({ has: page.locator(".conv-name", { hasText: new RegExp(`^${esc}$`) }) });
}

export async function openChatWith(page, title) {
  await page.goto("/#/");
  await convEntry(page, title).click();
  await page.locator(".composer-input").waitFor();
}

export async function sendMessage(page, text) {
  await page.locator(".composer-input").fill(text);
  await page.locator(".composer-input").press("Enter");
}
