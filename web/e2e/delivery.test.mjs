// How the client reaches the browser: compressed static files chosen by
// Accept-Encoding, and a service worker that caches the whole app at its first
// install, so that the app opens offline after one visit.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { ARTIFACTS, launchBrowser, newUserPage, startServer } from "./harness.mjs";

let server, browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The hashed script and stylesheet the app shell loads. */
async function shellAssets() {
  const html = await (await fetch(`${server.url}/`, { headers: { "accept-encoding": "identity" } })).text();
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
  assert.ok(assets.some((a) => a.endsWith(".js")) && assets.some((a) => a.endsWith(".css")), html);
  return assets;
}

/** The raw bytes and headers of a GET, with no decoding by the client. */
async function raw(path, acceptEncoding) {
  // Node's fetch decodes bodies; a plain HTTP request keeps what was on the wire.
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { headers: { "accept-encoding": acceptEncoding } }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("delivery of the client", () => {
  it("sends brotli or gzip copies of the same bytes, as the browser accepts them", async () => {
    for (const path of [...(await shellAssets()), "/"]) {
      const plain = await raw(path, "identity");
      assert.equal(plain.status, 200, path);
      assert.equal(plain.headers["content-encoding"], undefined, path);
      assert.equal(plain.headers.vary, "accept-encoding", path);

      const br = await raw(path, "gzip, deflate, br");
      assert.equal(br.headers["content-encoding"], "br", path);
      assert.equal(br.headers.vary, "accept-encoding", path);
      assert.equal(br.headers["content-type"], plain.headers["content-type"], path);
      assert.ok(br.body.length < plain.body.length, `${path}: ${br.body.length} >= ${plain.body.length}`);
      assert.deepEqual(brotliDecompressSync(br.body), plain.body, path);

      const gz = await raw(path, "gzip, br;q=0");
      assert.equal(gz.headers["content-encoding"], "gzip", path);
      assert.deepEqual(gunzipSync(gz.body), plain.body, path);
    }
    // Refused codings are never sent.
    const none = await raw("/", "br;q=0, gzip;q=0");
    assert.equal(none.headers["content-encoding"], undefined);
  });

  it("caches the whole app at the first visit and opens it offline", async () => {
    const assets = await shellAssets();
    const { context, page } = await newUserPage(browser, server);
    const transferred = new Map();
    page.on("requestfinished", async (request) => {
      const url = new URL(request.url());
      if (url.origin !== server.url) return;
      const sizes = await request.sizes().catch(() => null);
      const response = await request.response().catch(() => null);
      if (sizes && response) {
        transferred.set(url.pathname, {
          body: sizes.responseBodySize,
          headers: sizes.responseHeadersSize,
          encoding: (await response.allHeaders())["content-encoding"] ?? "identity",
        });
      }
    });
    await page.goto("/");
    await page.locator('input[name="username"]').waitFor();
    // The worker is in control after its first install, without a second load.
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
      if (!navigator.serviceWorker.controller) {
        await new Promise((r) => navigator.serviceWorker.addEventListener("controllerchange", r, { once: true }));
      }
    });
    const cached = await page.evaluate(async () => {
      const names = await caches.keys();
      const urls = [];
      for (const name of names) {
        for (const req of await (await caches.open(name)).keys()) urls.push(new URL(req.url).pathname);
      }
      return urls;
    });
    for (const asset of assets) assert.ok(cached.includes(asset), `${asset} not cached: ${cached.join(", ")}`);

    // What the first visit cost on the wire, for the README's size.
    const firstLoad = [...transferred.entries()].filter(([path]) => path === "/" || path.startsWith("/assets/"));
    for (const [path, size] of firstLoad) assert.equal(size.encoding, "br", `${path} was sent as ${size.encoding}`);
    const bytes = firstLoad.reduce((sum, [, size]) => sum + size.body + size.headers, 0);
    writeFileSync(join(ARTIFACTS, "first-load-bytes.json"), JSON.stringify({ bytes, files: Object.fromEntries(firstLoad) }, null, 2));

    await context.setOffline(true);
    await page.reload();
    await page.locator('input[name="username"]').waitFor();
    const styled = await page.evaluate(() => document.styleSheets.length);
    assert.ok(styled > 0, "the stylesheet came from the cache");
    await context.close();
  });
});
