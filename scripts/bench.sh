#!/usr/bin/env bash
# make bench: builds every function as it ships (cargo lambda build --release, the pinned
# profile) beside a hello-world Lambda, starts its own emulator and a TLS front for it, then
# runs the harness (bench/src/main.rs), which also starts the local stack (inflow_dev.gateway,
# as `make dev` serves, with the release binaries) per scenario and sets the emulator's latency
# model (inflow_dev.latency_model, from docs/cost-inputs.toml). Writes docs/bench/benchmarks.md and
# docs/bench-measurements.json, then the cost and capacity models (inflow_dev.cost -> docs/bench/cost.md,
# inflow_dev.capacity -> docs/bench/capacity.md).
# Not part of make test: slow (a cold release build takes many minutes) and machine-dependent.
# Bounded: every load is a fixed list of requests with a time limit, on loopback only.
#   BENCH_RUNS=15 BENCH_REQUESTS=150 make bench
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/tools.sh bench

export MOTO_PORT
MOTO_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# shellcheck source=scripts/env.sh
. scripts/env.sh

# Its own target dir: a release build must not wait on (or evict) the dev and SAM builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/bench}"
lambda_dir=$CARGO_TARGET_DIR/lambda
echo "bench: release build (cargo lambda build --release; many minutes when cold)"
cargo lambda build --release -p inflow-functions -p inflow-bench
harness=$lambda_dir/inflow-bench/bootstrap

scripts/moto.sh start "$MOTO_PORT"
pids=()
cleanup() {
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

for _ in $(seq 1 60); do
  port_in_use "$tls_port" && break
  sleep 0.5
done

# The latency model: docs/cost-inputs.toml's per-operation figures.
mkdir -p .dev
.venv/bin/python -m inflow_dev.latency_model docs/cost-inputs.toml >.dev/bench-model.json

# The handlers' own log lines go to the run's log; the table is printed from the file.
echo "bench: measuring (about 10 minutes; progress on stderr)"
AWS_CA_BUNDLE="$tls/ca.pem" "$harness" run --lambda-dir "$lambda_dir" --out docs/bench/benchmarks.md \
  --model .dev/bench-model.json --measurements docs/bench-measurements.json \
  --runs "${BENCH_RUNS:-15}" --requests "${BENCH_REQUESTS:-150}" \
  --tls-endpoint "https://127.0.0.1:$tls_port" \
  --full-trust-store "$tls/bundle.pem" >.dev/bench-run.log
.venv/bin/python -m inflow_dev.cost --measurements docs/bench-measurements.json --inputs docs/cost-inputs.toml \
  --template template.yaml --out docs/bench/cost.md
.venv/bin/python -m inflow_dev.capacity --measurements docs/bench-measurements.json --inputs docs/cost-inputs.toml \
  --template template.yaml --out docs/bench/capacity.md
cat docs/bench/benchmarks.md
echo "bench: written to docs/bench/benchmarks.md, docs/bench-measurements.json, docs/bench/cost.md and docs/bench/capacity.md"
