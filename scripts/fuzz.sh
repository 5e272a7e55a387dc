#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 10) each, starting from the
# committed corpus in fuzz/corpus/<target>. Works on stable Rust: it passes
# the coverage flags cargo-fuzz would, without needing nightly or cargo-fuzz.
# (With nightly and cargo-fuzz installed, `cargo fuzz run <target>` in fuzz/
# works too.) New inputs found go to target/fuzz/corpus; to keep them, run
#   target/fuzz/x86_64-unknown-linux-gnu/release/<target> -merge=1 fuzz/corpus/<target> target/fuzz/corpus/<target>
# Crashes are written to target/fuzz/artifacts/<target> and fail the script.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-10}"
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
# NATTER_FUZZ_TARGETS picks some (space-separated); all by default.
read -r -a TARGETS <<<"${NATTER_FUZZ_TARGETS:-client_frame request_body query_string server_frame}"

export RUSTFLAGS="-Cpasses=sancov-module \
  -Cllvm-args=-sanitizer-coverage-level=4 \
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
  -Cllvm-args=-sanitizer-coverage-pc-table \
  -Cllvm-args=-sanitizer-coverage-trace-compares \
  --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# --target keeps these flags off build scripts and proc macros.
cargo build --release --quiet --manifest-path fuzz/Cargo.toml \
  --target "$TRIPLE" --target-dir target/fuzz --bins

for target in "${TARGETS[@]}"; do
  work="target/fuzz/corpus/$target"
  artifacts="target/fuzz/artifacts/$target"
  mkdir -p "$work" "$artifacts"
  echo "== fuzz $target for ${SECONDS_EACH}s"
  log="target/fuzz/$target.log"
  status=0
  "target/fuzz/$TRIPLE/release/$target" \
    -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$work" "fuzz/corpus/$target" >"$log" 2>&1 || status=$?
  grep -E "stat::number_of_executed_units|stat::new_units_added" "$log" || true
  if [ "$status" -ne 0 ]; then
    grep -E "ERROR|panicked|SUMMARY|Test unit written|Base64" "$log" >&2 || tail -20 "$log" >&2
    echo "fuzz target $target failed (exit $status): inputs in $artifacts" >&2
    exit 1
  fi
done
