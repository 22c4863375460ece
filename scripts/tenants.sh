#!/usr/bin/env bash
# Many tenants, one stack, through the local stack as `make dev` runs it: the local API Gateway
# (inflow_dev.gateway) -> the functions -> the emulator on 127.0.0.1:MOTO_PORT, with
# inflow_dev.sources feeding the relay and the workers. tools/inflow_dev/tests/stack/test_tenants.py then has one
# organization import 5,000 addresses and another invite one person (see there).
#   scripts/tenants.sh MOTO_PORT        (make test runs it)
# The bulk lane's pace is raised to the emulator's (BULK_EMAILS_PER_SECOND): at the template's
# 10 a second the 5,000 mails would take over eight minutes; the ordering under test is the same.
set -euo pipefail
export MOTO_PORT=${1:?usage: scripts/tenants.sh MOTO_PORT}
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"
cd "$ROOT"

curl -sf -o /dev/null --max-time 5 "$AWS_ENDPOINT_URL/moto-api/" ||
  { echo "tenants: no emulator answers at $AWS_ENDPOINT_URL" >&2; exit 1; }
cargo build --workspace --quiet
"$INFLOWCTL" bootstrap >/dev/null
ses_identity
a=$(scripts/seed.sh "bulk-$(date +%s)-$RANDOM")
b=$(scripts/seed.sh "single-$(date +%s)-$RANDOM")

api_port=$(free_port)
base=http://127.0.0.1:$api_port
export ACCEPT_URL_TEMPLATE="$base/accept?secret={secret}" PUBLIC_BASE_URL=$base
export BULK_EMAILS_PER_SECOND=${BULK_EMAILS_PER_SECOND:-1000}
mkdir -p .dev
log=.dev/tenants-gateway-$api_port.log
workers_log=.dev/tenants-workers-$api_port.log
workers_pid=
cleanup() {
  stop_gateway
  [[ -z $workers_pid ]] || kill "$workers_pid" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
start_gateway "$api_port" "$log" --quiet
.venv/bin/python -m inflow_dev.sources --invoke-url "$base" >"$workers_log" 2>&1 </dev/null &
workers_pid=$!

status=0
.venv/bin/python tools/inflow_dev/tests/stack/test_tenants.py --base "$base" --emulator "$AWS_ENDPOINT_URL" \
  --a "$a" --b "$b" || status=$?
if ((status != 0)); then
  tail -n 30 "$log"
  tail -n 30 "$workers_log"
  exit "$status"
fi
rm -f "$log" "$workers_log"
