#!/usr/bin/env bash
# Every test of the project, as CI runs it (`make test`, called by .ci/run).
# Needs only the Rust toolchain; the web tests install their own packages and
# Debian's chromium when missing, and scripts/services.sh starts PostgreSQL
# and Redis when none run.
set -euo pipefail
cd "$(dirname "$0")/.."

# The terminal client's end-to-end test drives it under tmux.
if ! command -v tmux >/dev/null 2>&1; then
  echo "== installing tmux"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux
fi

echo "== formatting"
cargo fmt --all -- --check

echo "== lints"
cargo clippy --workspace --all-targets -- -D warnings

echo "== the OpenAPI validator (openapi-spec-validator from PyPI, in target/)"
VENV="target/openapi-venv"
if [ ! -x "$VENV/bin/openapi-spec-validator" ]; then
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install --quiet openapi-spec-validator
fi
export NATTER_OPENAPI_VALIDATOR="$PWD/$VENV/bin/openapi-spec-validator"

# PostgreSQL and Redis for the scale-out suites: the local ones, or throwaway
# ones from Debian's packages when none answer.
source scripts/services.sh

echo "== Rust tests"
# As root (CI), the storage-fault tests must really run, not skip: they mount a
# tmpfs in a user namespace, which root can always do.
if [ "$(id -u)" = "0" ]; then
  export NATTER_REQUIRE_NAMESPACES=1
fi
cargo test --workspace

echo "== the server's suite again, every server on PostgreSQL"
# The same tests through the same doors, so that both stores keep one set of
# rules (the storage contract and the crash test run on both already).
NATTER_TEST_BACKEND=postgresql cargo test -p natter-server --test it

echo "== advisories (RustSec, offline)"
scripts/audit.sh

echo "== fuzzing, bounded (every decoder of untrusted input)"
scripts/fuzz.sh "${NATTER_FUZZ_SECONDS:-10}"

if [ -x scripts/web-test.sh ] && [ -f web/package.json ]; then
  echo "== web tests"
  cargo build -p natter
  NATTER_BIN="$PWD/target/debug/natter" scripts/web-test.sh
fi
