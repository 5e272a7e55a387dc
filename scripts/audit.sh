#!/usr/bin/env bash
# Audits Cargo.lock against a local copy of the RustSec advisory database,
# offline: cargo audit --db "${NATTER_ADVISORY_DB:-../shared/advisory-db}" --no-fetch
# (a relative path is taken from the repository root).
#
# Exits non-zero when cargo-audit reports a vulnerability, or a warning
# (unmaintained, unsound, yanked): no advisory may stay open for a crate in
# the tree. A missing tool or database, or cargo-audit failing for another
# reason, prints one line saying so and exits 0: this must never fail CI for
# a missing tool.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 0
db="${NATTER_ADVISORY_DB:-../shared/advisory-db}"

if ! command -v cargo >/dev/null 2>&1; then
    echo "audit: skipped, cargo is not installed"
    exit 0
fi
if ! cargo audit --version >/dev/null 2>&1; then
    echo "audit: skipped, cargo-audit is not installed (cargo install cargo-audit --locked)"
    exit 0
fi
if [ ! -d "$db" ]; then
    echo "audit: skipped, no advisory database at $db (set NATTER_ADVISORY_DB to a RustSec advisory-db checkout)"
    exit 0
fi

cargo audit --db "$db" --no-fetch --deny warnings
status=$?
[ "$status" -eq 0 ] && exit 0

# cargo-audit exits 1 for vulnerabilities and for its own errors alike; ask
# again in JSON to tell them apart.
json="$(cargo audit --db "$db" --no-fetch --json 2>/dev/null)"
if command -v python3 >/dev/null 2>&1; then
    found="$(printf '%s' "$json" | python3 -c '
import json, sys
try:
    report = json.load(sys.stdin)
except ValueError:
    print("unknown")
else:
    warnings = any(report.get("warnings", {}).values())
    print("yes" if report.get("vulnerabilities", {}).get("found") or warnings else "no")
')"
elif printf '%s' "$json" | grep -q '"vulnerabilities":{"found":true'; then
    found=yes
else
    found=unknown
fi

if [ "$found" = yes ]; then
    exit 1
fi
echo "audit: cargo-audit failed (exit $status) without reporting a vulnerability; not failing"
exit 0
