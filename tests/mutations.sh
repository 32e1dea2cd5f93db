#!/usr/bin/env bash
# The conformance suite's mutation check: a suite that cannot fail proves nothing. With the cargo
# feature `mutations`, `ENTRA_MOCK_MUTATION=<name>` breaks one rule of the reference clients
# (src/clients/mutation.rs); for each one this script runs the reference-client and conformance
# tests and fails unless they go red. Results go to target/conformance/mutations.tsv (the
# conformance report's last table). Run by tests/run-all.sh after the other suites, because the
# feature build replaces target/release/entra-mock with a binary that has the switches.
set -uo pipefail
cd "$(dirname "$0")/.."

mutations=(bff-skips-state bff-cookie-not-httponly api-skips-aud api-skips-exp api-accepts-alg-none spa-uses-localstorage)
filters=(reference_ conformance:: validator::)
out=target/conformance
mkdir -p "$out"
: > "$out/mutations.tsv"

echo "== mutation check: building with --features mutations"
cargo test --release --locked --features mutations --test integration --no-run || exit 1
# The unmutated suite must pass with this build, or a red run would prove nothing.
if ! cargo test --release --locked --features mutations --test integration -- "${filters[@]}" >"$out/mutation-none.log" 2>&1; then
  echo "the suite fails without any mutation: see $out/mutation-none.log" >&2
  exit 1
fi

survived=0
for m in "${mutations[@]}"; do
  log="$out/mutation-$m.log"
  ENTRA_MOCK_MUTATION="$m" cargo test --release --locked --features mutations --test integration \
    -- "${filters[@]}" >"$log" 2>&1
  red=$(grep -E '^test .* \.\.\. FAILED$' "$log" | sed -E 's/^test (.*) \.\.\. FAILED$/\1/' | paste -sd ' ' -)
  if [ -n "$red" ]; then
    echo "caught   $m: $red"
    printf '%s\tcaught\t%s\n' "$m" "$red" >> "$out/mutations.tsv"
  else
    echo "SURVIVED $m: the suite stayed green (see $log)"
    printf '%s\tSURVIVED\t\n' "$m" >> "$out/mutations.tsv"
    survived=1
  fi
done
exit $survived
