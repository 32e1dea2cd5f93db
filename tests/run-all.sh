#!/usr/bin/env bash
# Runs every test of entra-mock: the Rust unit and integration tests, then the interop tests with
# real client libraries: MSAL Python, azure-identity, Authlib and PyJWT (a Python virtualenv under
# target/), and openid-client, oauth4webapi, msal-node, jose and msal-browser (npm packages under
# tests/interop/browser/node_modules; msal-browser in headless Chromium, Debian's chromium, which
# this script installs with apt-get when it runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."

# The conformance report's input, written afresh by this run's suites.
rm -rf target/conformance target/conformance.md

echo "== cargo build --release --locked (the Dockerfile's build)"
cargo build --release --locked

echo "== cargo test --release --locked"
cargo test --release --locked

echo "== fuzz targets (fuzz/): coverage-guided libFuzzer, each run a few seconds from its saved corpus"
# The flags cargo-fuzz passes (SanitizerCoverage: edge counters, a PC table and comparison
# tracing, plus debug assertions and overflow checks), without its nightly-only AddressSanitizer,
# so stable Rust builds the same coverage-guided binaries. Built for the host triple so that the
# build scripts and proc macros stay uninstrumented, in a target dir of their own so the main
# build keeps its artifacts. The same targets also ran above as ordinary tests (fuzz_targets.rs).
host=$(rustc -vV | sed -n 's/^host: //p')
fuzz_target_dir="$PWD/target/fuzz"
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks" \
  CARGO_TARGET_DIR="$fuzz_target_dir" \
  cargo build --release --locked --target "$host" --manifest-path fuzz/Cargo.toml
fuzz_secs="${ENTRA_MOCK_FUZZ_SECONDS:-5}"
for target in fuzz/fuzz_targets/*.rs; do
  name=$(basename "$target" .rs)
  work="target/fuzz-corpus/$name"
  crashes="target/fuzz-crashes/$name"
  rm -rf "$work" "$crashes" && mkdir -p "$work" "$crashes" && cp fuzz/corpus/"$name"/* "$work"/
  dict=()
  if [ -f "fuzz/dicts/$name.dict" ]; then dict=(-dict="fuzz/dicts/$name.dict"); fi
  if ! "$fuzz_target_dir/$host/release/$name" -max_total_time="$fuzz_secs" -timeout=10 \
    "${dict[@]}" -artifact_prefix="$crashes/" "$work" >"$work.log" 2>&1; then
    tail -n 60 "$work.log"
    echo "fuzz target $name failed: its input is in $crashes/" >&2
    exit 1
  fi
  echo "$name: $(grep -m1 'INITED' "$work.log" | grep -o 'cov: [0-9]*') from the corpus," \
    "$(grep -m1 'DONE' "$work.log" | grep -o 'cov: [0-9]*') after: $(tail -n 1 "$work.log")"
done

if [ -d tests/interop ] && ls tests/interop/*_test.py >/dev/null 2>&1; then
  echo "== interop tests (pytest, real client libraries)"
  venv=target/interop-venv
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
  ENTRA_MOCK_BIN="$PWD/target/release/entra-mock" "$venv/bin/python" -m pytest -q tests/interop
fi

if [ -d tests/interop/browser ]; then
  echo "== browser tests (node --test: msal-browser and the reference clients in headless Chromium)"
  chromium_bin="${CHROMIUM:-/usr/bin/chromium}"
  if [ ! -x "$chromium_bin" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "Chromium is needed at $chromium_bin: install Debian's package (sudo apt-get install chromium)" >&2
      exit 1
    fi
  fi
  npm ci --prefix tests/interop/browser --no-audit --no-fund --loglevel=error
  ENTRA_MOCK_BIN="$PWD/target/release/entra-mock" CHROMIUM="$chromium_bin" \
    node --test tests/interop/browser/
fi

echo "== benchmark harness, smoke run (BENCH_QUICK=1 cargo bench --bench server; the full run is in README)"
BENCH_QUICK=1 cargo bench --locked --bench server

echo "== mutation check (tests/mutations.sh): each broken rule must turn the suite red"
bash tests/mutations.sh

echo "== conformance report"
python3 tests/conformance_report.py
