#!/usr/bin/env bash
# make dev: the whole stack on this machine, no AWS account needed.
#   emulator (moto) on 127.0.0.1:4566 -> bootstrap -> demo org -> every HTTP function at
#   http://127.0.0.1:9000 on the routes of template.yaml (inflow_dev.gateway: API Gateway's HTTP
#   API with several instances per function, CORS for any origin unless CORS_ALLOW_ORIGINS says
#   otherwise, rebuilds and swaps in the functions when their sources change), with the relay,
#   the queue workers and the sweeper fed by inflow_dev.sources.
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/tools.sh dev

export MOTO_PORT=${MOTO_PORT:-4566}
API_PORT=${API_PORT:-9000}
. scripts/env.sh

if port_in_use "$API_PORT"; then
  echo "dev: 127.0.0.1:$API_PORT is already in use (another make dev?). Stop it or set API_PORT." >&2
  exit 1
fi

started_moto=0
GATEWAY_PID=
workers_pid=
cleanup() {
  trap - INT TERM EXIT
  if [[ -n $workers_pid ]]; then kill "$workers_pid" 2>/dev/null || true; fi
  stop_gateway
  ((started_moto)) && scripts/moto.sh stop "$MOTO_PORT"
  echo "dev: stopped"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if port_in_use "$MOTO_PORT"; then
  curl -sf -o /dev/null --max-time 5 "$AWS_ENDPOINT_URL/moto-api/" ||
    { echo "dev: 127.0.0.1:$MOTO_PORT is in use by something that is not moto" >&2; exit 1; }
  echo "dev: reusing the emulator already running on 127.0.0.1:$MOTO_PORT (not stopped on exit)"
else
  scripts/moto.sh start "$MOTO_PORT"
  started_moto=1
fi

echo "dev: building every function and inflowctl (cold: a few minutes)"
cargo build --workspace
"$INFLOWCTL" bootstrap >/dev/null
ses_identity
# `demo` on a fresh emulator; a reused one already has it (and its keys are shown only once).
seed=$(scripts/seed.sh demo 2>/dev/null) || seed=$(scripts/seed.sh "demo-$(date +%s)")
# Kept for `make invoke` (the keys are shown only once): local keys, readable by this user only.
mkdir -p .dev
(umask 077 && printf '%s\n' "$seed" >".dev/seed-$MOTO_PORT.json")
sk=$(json_get adminKey <<<"$seed")
pk=$(json_get userKey <<<"$seed")
org_id=$(json_get orgId <<<"$seed")
slug=$(json_get slug <<<"$seed")
flow_id=$(json_get flowId <<<"$seed")
email=$(json_get userEmail <<<"$seed")

base=http://127.0.0.1:$API_PORT
# Every function is built (above) and initialised (one instance each) before the port opens, so
# the first request to each is answered in normal time.
echo "dev: starting the local API Gateway (inflow_dev.gateway) on $base"
start_gateway "$API_PORT" - --rebuild --access-log

# Lambda's event sources, locally: the relay on the table's stream, the queues' workers and the
# sweeper's schedule.
.venv/bin/python -m inflow_dev.sources --invoke-url "$base" </dev/null &
workers_pid=$!

cat <<EOF

dev: ready at $base  (emulator at $AWS_ENDPOINT_URL; Ctrl-C stops)
  workers       relay (from the table's stream), email-worker, webhook-worker (from the local
                queues), sweeper (every minute)
  reload        edit and save: the functions are rebuilt and swapped in (template.yaml too)
  CORS          ${CORS_ALLOW_ORIGINS:-any origin} (CORS_ALLOW_ORIGINS=http://localhost:5173,... narrows it; none: off)
  status        curl -s $base/_gateway/status
  sent mail     curl -s $AWS_ENDPOINT_URL/_inflow/sent-mail
  invoke        make invoke FN=get-assignment   (an events/ sample, with these keys and ids)
  organization  $org_id  (slug $slug)
  admin key     $sk
  user key      $pk
  user          $email
  flow          $flow_id

Try:
  curl -s -X POST $base/v1/flows/assign -H "Authorization: Bearer $sk" -H "Content-Type: application/json" -d '{"flowId":"$flow_id","userEmail":"$email","priority":"high"}'

EOF
wait "$GATEWAY_PID"
