#!/usr/bin/env bash
# Writes src/link-order.txt: the functions entra-mock runs, in the order the linker should lay
# them out (src/build.rs hands the file to lld as --symbol-ordering-file). Run it after a
# dependency or toolchain update (symbol names carry hashes of both) or a large change of the
# start-up or request paths; then rebuild and check idle RSS with `cargo bench --bench server`.
#
# How: the release binary runs under valgrind's callgrind, which names every function run.
#   1. start-up on an empty data dir, then on the existing one, HTTP only (as the benchmark
#      starts it), each until the first discovery answer and a second of idle;
#   2. the same with the HTTPS listener too (the default start: the local CA and certificate);
#   3. the benchmark's load phases (JWKS, discovery, client_credentials, refresh grants,
#      interactive sign-ins with and without TOTP), on one worker and on two.
# The file lists group 1's functions, then those group 2 adds, then those group 3 adds, each
# group sorted by name; only functions of the binary's own symbol table.
#
# Needs: valgrind, curl, python3, nm (binutils), taskset (util-linux). About 10 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in valgrind curl python3 nm; do
  command -v "$tool" >/dev/null || { echo "link-order.sh needs $tool" >&2; exit 1; }
done

cargo build --release --locked
bin=target/release/entra-mock
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
callgrind="valgrind --tool=callgrind --demangle=no --compress-strings=no --compress-pos=no --dump-instr=no --dump-line=no"
tenant=aaaabbbb-0000-cccc-1111-dddd2222eeee

# start GROUP HTTPS_ADDR: one start on $work/data-GROUP (made on the first call), stopped with
# SIGTERM after its first discovery answer and a second of idle (callgrind writes at exit).
start() {
  local group=$1 https=$2 port=18700
  mkdir -p "$work/data-$group"
  $callgrind --callgrind-out-file="$work/$group.%p" "$bin" serve \
    --http-addr "127.0.0.1:$port" --https-addr "$https" --data-dir "$work/data-$group" \
    >"$work/server.log" 2>&1 &
  local pid=$! ready=""
  for _ in $(seq 1 600); do
    if curl -fs -o /dev/null "http://localhost:$port/$tenant/v2.0/.well-known/openid-configuration"; then
      ready=1
      break
    fi
    sleep 0.2
  done
  [ -n "$ready" ] || { cat "$work/server.log" >&2; kill "$pid"; exit 1; }
  sleep 1
  kill -TERM "$pid"
  wait "$pid" || true
}

echo "== start-up under callgrind"
start 1-start off
start 1-start off
start 2-tls 127.0.0.1:0
start 2-tls 127.0.0.1:0

echo "== load phases under callgrind (BENCH_ONLY=...; full-length phases: a quick one may see no sign-in end under valgrind)"
BENCH_ONLY=jwks,discovery,cc,refresh,signin,totp \
  BENCH_SERVER_WRAPPER="$callgrind --callgrind-out-file=$work/3-load.%p" \
  cargo bench --locked --bench server

nm --defined-only "$bin" | awk '$2 ~ /^[tT]$/ {print $3}' | sort -u >"$work/symbols"
python3 - "$work" >src/link-order.txt <<'EOF'
import glob, os, sys

work = sys.argv[1]
symbols = set(open(os.path.join(work, "symbols")).read().split())
seen = set()
for group in ("1-start", "2-tls", "3-load"):
    names = set()
    for path in glob.glob(os.path.join(work, group + ".*")):
        for line in open(path, errors="replace"):
            if line.startswith(("fn=", "cfn=")):
                name = line.split("=", 1)[1].strip()
                if name in symbols and name not in seen:
                    names.add(name)
    for name in sorted(names):
        print(name)
    seen |= names
    print(f"{group}: {len(names)} functions", file=sys.stderr)
EOF
echo "wrote src/link-order.txt ($(wc -l <src/link-order.txt) functions)"
