#!/usr/bin/env bash
# make bench: builds every function as it ships (cargo lambda build --release, the pinned
# profile) beside a hello-world Lambda, starts its own emulator, a TLS front for it and the
# local stack (cargo lambda watch --only-lambda-apis, with the release binaries), then runs
# the harness (bench/src/main.rs). Prints one table and writes it to docs/benchmarks.md.
# Not part of make test: slow (a cold release build takes many minutes) and machine-dependent.
#   BENCH_RUNS=15 BENCH_REQUESTS=150 make bench
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/tools.sh

export MOTO_PORT
MOTO_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# shellcheck source=scripts/env.sh
. scripts/env.sh

# Its own target dir: a release build must not wait on (or evict) the dev and SAM builds.
export CARGO_TARGET_DIR="$ROOT/target/bench"
lambda_dir=$CARGO_TARGET_DIR/lambda
echo "bench: release build (cargo lambda build --release; many minutes when cold)"
cargo lambda build --release -p inflow-functions -p inflow-bench
harness=$lambda_dir/inflow-bench/bootstrap

scripts/moto.sh start "$MOTO_PORT"
pids=()
watch_pid=
cleanup() {
  [[ -n $watch_pid ]] && kill -- "-$watch_pid" 2>/dev/null
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  scripts/moto.sh stop "$MOTO_PORT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A throwaway CA and a certificate for 127.0.0.1/localhost, trusted through AWS_CA_BUNDLE;
# bundle.pem (the system roots plus it) shows what a whole trust store costs init.
tls=.dev/bench-tls
scripts/tls-cert.sh "$tls"
cat /etc/ssl/certs/ca-certificates.crt "$tls/ca.pem" >"$tls/bundle.pem" 2>/dev/null || cp "$tls/ca.pem" "$tls/bundle.pem"
tls_port=$(free_port)
.venv/bin/python bench/tls_proxy.py "$tls_port" "$MOTO_PORT" "$tls/leaf.pem" "$tls/leaf.key" &
pids+=($!)

# The local stack without cargo's builds: the harness starts the release binaries itself.
stack_port=$(free_port)
setsid cargo lambda watch --only-lambda-apis --ignore-changes --invoke-address 127.0.0.1 \
  --invoke-port "$stack_port" >".dev/bench-watch.log" 2>&1 </dev/null &
watch_pid=$!
for _ in $(seq 1 60); do
  port_in_use "$stack_port" && port_in_use "$tls_port" && break
  sleep 0.5
done
port_in_use "$stack_port" || { echo "bench: cargo lambda watch did not start (.dev/bench-watch.log)" >&2; exit 1; }

# The handlers' own log lines go to the run's log; the table is printed from the file.
AWS_CA_BUNDLE="$tls/ca.pem" "$harness" run --lambda-dir "$lambda_dir" --out docs/benchmarks.md \
  --runs "${BENCH_RUNS:-15}" --requests "${BENCH_REQUESTS:-150}" \
  --stack "127.0.0.1:$stack_port" --tls-endpoint "https://127.0.0.1:$tls_port" \
  --full-trust-store "$tls/bundle.pem" >.dev/bench-run.log
cat docs/benchmarks.md
echo "bench: written to docs/benchmarks.md"
