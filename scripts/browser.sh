#!/usr/bin/env bash
# The hosted accept page in headless Chromium, over the real local path, started the way
# scripts/smoke.sh starts it: the local API Gateway (inflow_dev.gateway, routes of template.yaml)
# -> the functions -> the emulator already running on 127.0.0.1:MOTO_PORT, with
# inflow_dev.sources feeding the relay and the email worker. tools/inflow_dev/tests/stack/browser_test.py then opens the link of an email the stack
# sent, accepts, and checks the flow COMPLETED through the API.
#   scripts/browser.sh MOTO_PORT [--screenshots DIR]    (make test runs it without screenshots;
#                                                        docs/accept-page holds docs/api.md's)
set -euo pipefail
export MOTO_PORT=${1:?usage: scripts/browser.sh MOTO_PORT [--screenshots DIR]}
shift
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"
cd "$ROOT"

curl -sf -o /dev/null --max-time 5 "$AWS_ENDPOINT_URL/moto-api/" ||
  { echo "browser: no emulator answers at $AWS_ENDPOINT_URL" >&2; exit 1; }

cargo build --workspace --quiet
"$INFLOWCTL" bootstrap >/dev/null
ses_identity
seed=$(scripts/seed.sh "browser-$(date +%s)-$RANDOM")

api_port=$(free_port)
base=http://127.0.0.1:$api_port
# The stack's emails link to its own hosted page, as a deployed stack's do.
export ACCEPT_URL_TEMPLATE="$base/accept?secret={secret}" PUBLIC_BASE_URL=$base
mkdir -p .dev
log=.dev/browser-gateway-$api_port.log
workers_pid=
cleanup() {
  stop_gateway
  [[ -z $workers_pid ]] || kill "$workers_pid" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
start_gateway "$api_port" "$log"
.venv/bin/python -m inflow_dev.sources --invoke-url "$base" >".dev/browser-workers-$api_port.log" 2>&1 </dev/null &
workers_pid=$!

echo "browser: API at $base (log $log)"
status=0
.venv/bin/python tools/inflow_dev/tests/stack/browser_test.py --base "$base" --emulator "$AWS_ENDPOINT_URL" \
  --admin-key "$(json_get adminKey <<<"$seed")" --org-slug "$(json_get slug <<<"$seed")" "$@" || status=$?
if ((status != 0)); then
  echo "browser: last lines of $log:"
  tail -n 30 "$log"
  tail -n 20 ".dev/browser-workers-$api_port.log"
  exit "$status"
fi
rm -f "$log" ".dev/browser-workers-$api_port.log"
