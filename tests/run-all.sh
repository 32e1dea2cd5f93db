#!/usr/bin/env bash
# Runs every test of entra-mock: the Rust unit and integration tests, then the interop tests with
# real client libraries. Sets up what it needs without root: a Python virtualenv under target/.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo build --release --locked (the Dockerfile's build)"
cargo build --release --locked

echo "== cargo test --release --locked"
cargo test --release --locked

if [ -d tests/interop ] && ls tests/interop/*_test.py >/dev/null 2>&1; then
  echo "== interop tests (pytest, real client libraries)"
  venv=target/interop-venv
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
  ENTRA_MOCK_BIN="$PWD/target/release/entra-mock" "$venv/bin/python" -m pytest -q tests/interop
fi
