#!/usr/bin/env bash
# make dev: the whole stack on this machine, no AWS account needed.
#   emulator (moto) on 127.0.0.1:4566 -> bootstrap -> demo org -> every HTTP function at
#   http://127.0.0.1:9000 on the routes of template.yaml (cargo lambda watch, reloads on edits),
#   with the relay, the queue workers and the sweeper fed by scripts/local_workers.py.
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/tools.sh

export MOTO_PORT=${MOTO_PORT:-4566}
API_PORT=${API_PORT:-9000}
. scripts/env.sh

if port_in_use "$API_PORT"; then
  echo "dev: 127.0.0.1:$API_PORT is already in use (another make dev?). Stop it or set API_PORT." >&2
  exit 1
fi

started_moto=0
watch_pid=
workers_pid=
cleanup() {
  trap - INT TERM EXIT
  if [[ -n $workers_pid ]]; then kill "$workers_pid" 2>/dev/null || true; fi
  if [[ -n $watch_pid ]]; then kill -- "-$watch_pid" 2>/dev/null || true; fi
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
target/debug/inflowctl bootstrap >/dev/null
ses_identity
# `demo` on a fresh emulator; a reused one already has it (and its keys are shown only once).
seed=$(scripts/seed.sh demo 2>/dev/null) || seed=$(scripts/seed.sh "demo-$(date +%s)")
sk=$(json_get adminKey <<<"$seed")
pk=$(json_get userKey <<<"$seed")
org_id=$(json_get orgId <<<"$seed")
slug=$(json_get slug <<<"$seed")
flow_id=$(json_get flowId <<<"$seed")
email=$(json_get userEmail <<<"$seed")

base=http://127.0.0.1:$API_PORT
lambda_env_args
# Own session and process group: Ctrl-C reaches this script, whose trap stops the whole group.
setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$API_PORT" "${LAMBDA_ENV_ARGS[@]}" </dev/null &
watch_pid=$!

for _ in $(seq 1 120); do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/") || true
  [[ $code != 000 ]] && break
  kill -0 "$watch_pid" 2>/dev/null || { echo "dev: cargo lambda watch exited" >&2; exit 1; }
  sleep 0.5
done
[[ $code != 000 ]] || { echo "dev: cargo lambda watch did not answer on $base in 60 s" >&2; exit 1; }

# One request per route of the router starts each function now, so the first real request is
# not the slow one. Any answer will do (mostly 4xx: empty body, unknown ids).
echo "dev: warming every function"
routes=$(python3 -c 'import re, tomllib
router = tomllib.load(open("Cargo.toml", "rb"))["workspace"]["metadata"]["lambda"]["watch"]["router"]
for path, targets in router.items():
    for t in targets if isinstance(targets, list) else [{"method": "GET"}]:
        print(t.get("method", "GET"), re.sub(r"\{[^}]*\}", "warmup", path))')
while read -r method path; do
  body=()
  [[ $method == GET ]] || body=(-H "Content-Type: application/json" -d '{}')
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 300 -X "$method" "$base$path" \
    -H "Authorization: Bearer $sk" "${body[@]}") || true
  echo "dev:   $method $path -> $code"
done <<<"$routes"

# Lambda's event sources, locally: the relay on the table's stream, the queues' workers and the
# sweeper's schedule.
.venv/bin/python scripts/local_workers.py --invoke-url "$base" </dev/null &
workers_pid=$!

cat <<EOF

dev: ready at $base  (emulator at $AWS_ENDPOINT_URL; Ctrl-C stops)
  workers       relay (from the table's stream), email-worker, webhook-worker (from the local
                queues), sweeper (every minute)
  sent mail     curl -s $AWS_ENDPOINT_URL/_inflow/sent-mail
  organization  $org_id  (slug $slug)
  admin key     $sk
  user key      $pk
  user          $email
  flow          $flow_id

Try:
  curl -s -X POST $base/v1/flows/assign -H "Authorization: Bearer $sk" -H "Content-Type: application/json" -d '{"flowId":"$flow_id","userEmail":"$email","priority":"high"}'

EOF
wait "$watch_pid"
