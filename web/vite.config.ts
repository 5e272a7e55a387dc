import { defineConfig } from "vitest/config";

// No framework plugin: Preact only needs the automatic JSX runtime, which the
// built-in transformer provides. That keeps the build small and dependency-light.
export default defineConfig({
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
