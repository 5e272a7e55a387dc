#!/usr/bin/env bash
# Builds and tests the web client: type check + build, Vitest unit tests, then end-to-end
# tests in headless Debian chromium against real `natter serve` processes.
#   NATTER_BIN=target/debug/natter scripts/web-test.sh
# Screenshots and other artifacts land in web/test-results/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEB="$ROOT/web"

if [[ -z "${NATTER_BIN:-}" ]]; then
  echo "web-test: set NATTER_BIN to a built natter binary (e.g. target/debug/natter)" >&2
  exit 2
fi
NATTER_BIN="$(cd "$(dirname "$NATTER_BIN")" && pwd)/$(basename "$NATTER_BIN")"
if [[ ! -x "$NATTER_BIN" ]]; then
  echo "web-test: $NATTER_BIN is not an executable" >&2
  exit 2
fi
export NATTER_BIN

cd "$WEB"

# Dependencies: reinstall when package-lock.json is newer than the installed tree.
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "web-test: npm ci"
  npm ci --no-audit --no-fund
fi

# Debian's chromium (no browser download).
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$CHROMIUM" ]]; then
  echo "web-test: installing chromium with apt-get"
  SUDO=""
  [[ "$(id -u)" != 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
export CHROMIUM
# CJK and emoji fonts, so the screenshots in both languages are legible (not needed to pass).
if command -v fc-list >/dev/null && ! fc-list | grep -q "Noto Sans CJK"; then
  echo "web-test: installing CJK and emoji fonts for the screenshots (best effort)"
  SUDO=""
  [[ "$(id -u)" != 0 ]] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk fonts-noto-color-emoji || true
fi

echo "web-test: build"
npm run build

echo "web-test: unit tests"
npx vitest run

echo "web-test: end-to-end tests"
rm -rf test-results
# A debug server reads web/dist at run time, so the build above is what it serves.
timeout 600 node --test --test-concurrency=1 --test-reporter=spec e2e/
