import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";

/** Files worth compressing: text. Images and fonts are compressed already. */
const COMPRESSIBLE = /\.(js|css|html|svg|webmanifest|json|txt)$/;
/** The line of public/sw.js that the build fills in. */
const SW_BUILD_LINE = 'const BUILD = { version: "dev", assets: [] };';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/**
 * After the bundle is written: tell the service worker which files make up this
 * version (so the first install caches all of them), then store a brotli and a
 * gzip copy of every text file beside it, which the server sends to browsers
 * that accept them (crates/natter-server/src/http/web.rs). Precompressed at
 * the highest levels, since it is done once per build and not per request.
 */
function shellAndCompression(): Plugin {
  let outDir = "dist";
  return {
    name: "natter-shell-and-compression",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir;
    },
    closeBundle() {
      const assets = filesUnder(join(outDir, "assets"))
        .map((path) => `/${relative(outDir, path).split("\\").join("/")}`)
        .sort();
      const version = createHash("sha256").update(assets.join("\n")).digest("hex").slice(0, 12);
      const swPath = join(outDir, "sw.js");
      const sw = readFileSync(swPath, "utf8");
      if (!sw.includes(SW_BUILD_LINE)) throw new Error("sw.js has no BUILD line to fill in");
      writeFileSync(swPath, sw.replace(SW_BUILD_LINE, `const BUILD = ${JSON.stringify({ version, assets })};`));

      for (const path of filesUnder(outDir)) {
        if (!COMPRESSIBLE.test(path)) continue;
        const data = readFileSync(path);
        const brotli = brotliCompressSync(data, {
          params: {
            [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
            [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
          },
        });
        const gzip = gzipSync(data, { level: 9 });
        // A copy that saves nothing is not worth a lookup.
        if (brotli.length < data.length) writeFileSync(`${path}.br`, brotli);
        if (gzip.length < data.length) writeFileSync(`${path}.gz`, gzip);
      }
    },
  };
}

// No framework plugin: Preact only needs the automatic JSX runtime, which the
// built-in transformer provides. That keeps the build small and dependency-light.
export default defineConfig({
  plugins: [shellAndCompression()],
  oxc: {
    jsx: { runtime: "automatic", importSource: "preact" },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // The polyfill is an inline-style script; the server's CSP forbids it and
    // every browser we support has native modulepreload.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    proxy: { "/api": { target: "http://127.0.0.1:8080", ws: true } },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
