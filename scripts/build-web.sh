#!/usr/bin/env bash
# Builds the web client into web/dist when it is missing or older than its sources.
# Without Node.js the server still runs and its start page says how to build the client.
set -euo pipefail
cd "$(dirname "$0")/../web"

if [ ! -f package.json ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "build-web: npm not found; the server will run without the web client" >&2
  exit 0
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
if [ ! -f dist/index.html ] || [ -n "$(find src public index.html package.json vite.config.* -newer dist/index.html 2>/dev/null | head -n 1)" ]; then
  npm run build
fi
