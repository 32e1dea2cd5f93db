#!/usr/bin/env bash
# Runs every test of entra-mock: the Rust unit and integration tests, then the interop tests with
# real client libraries: MSAL Python and azure-identity (a Python virtualenv under target/), and
# msal-browser in headless Chromium (npm packages under tests/interop/browser/node_modules, and
# Debian's chromium, which this script installs with apt-get when it runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."

# The conformance report's input, written afresh by this run's suites.
rm -rf target/conformance target/conformance.md

echo "== cargo build --release --locked (the Dockerfile's build)"
cargo build --release --locked

echo "== cargo test --release --locked"
cargo test --release --locked

echo "== fuzz targets (fuzz/): built on this toolchain, each run a few seconds over a copy of its corpus"
# Stable Rust builds the cargo-fuzz targets with libFuzzer but without coverage instrumentation
# (random and corpus-mutation inputs); with nightly and cargo-fuzz installed, the instrumented
# build runs instead. The same targets also ran above as ordinary tests (fuzz_targets.rs).
CARGO_TARGET_DIR="$PWD/target" cargo build --release --locked --manifest-path fuzz/Cargo.toml
fuzz_secs="${ENTRA_MOCK_FUZZ_SECONDS:-5}"
for target in fuzz/fuzz_targets/*.rs; do
  name=$(basename "$target" .rs)
  work="target/fuzz-corpus/$name"
  rm -rf "$work" && mkdir -p "$work" && cp fuzz/corpus/"$name"/* "$work"/
  if command -v cargo-fuzz >/dev/null && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    (cd fuzz && cargo +nightly fuzz run "$name" "../$work" -- -max_total_time="$fuzz_secs")
  else
    if ! "target/release/$name" -max_total_time="$fuzz_secs" "$work" >"$work.log" 2>&1; then
      cat "$work.log"
      exit 1
    fi
    echo "$name: $(tail -n 1 "$work.log")"
  fi
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
