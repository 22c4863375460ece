#!/usr/bin/env bash
# make smoke's deployed-stack mode, against the local stack standing in for a deployed one: the
# local API Gateway and workers on the emulator already running on 127.0.0.1:MOTO_PORT, and a
# CloudFormation stack created in the emulator whose outputs name them as template.yaml's do.
#   - DRY_RUN=1 scripts/smoke.sh --stack NAME resolves the URL and table from the outputs and
#     creates nothing;
#   - scripts/smoke.sh --stack NAME, with none of the names in the environment, runs every check
#     (with a webhook receiver whose deliveries' signatures it verifies) and cleans up;
#   - scripts/smoke.sh --url URL takes the names from the environment;
#   - a stack that does not exist fails.
#   scripts/test_smoke_deployed.sh MOTO_PORT        (make test runs it)
set -euo pipefail
export MOTO_PORT=${1:?usage: scripts/test_smoke_deployed.sh MOTO_PORT}
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"
cd "$ROOT"

curl -sf -o /dev/null --max-time 5 "$AWS_ENDPOINT_URL/moto-api/" ||
  { echo "smoke (deployed): no emulator answers at $AWS_ENDPOINT_URL" >&2; exit 1; }
cargo build --workspace --quiet
ctl=${CARGO_TARGET_DIR:-target}/debug/inflowctl
"$ctl" bootstrap >/dev/null
ses_identity

api_port=$(free_port) recv_port=$(free_port)
base=http://127.0.0.1:$api_port
mkdir -p .dev
log=.dev/smoke-deployed-gateway-$api_port.log
tmp=$(mktemp -d)
GATEWAY_PID= workers_pid= receiver_pid=
cleanup() {
  stop_gateway
  [[ -z $workers_pid ]] || kill "$workers_pid" 2>/dev/null || true
  [[ -z $receiver_pid ]] || kill "$receiver_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_gateway "$api_port" "$log"
.venv/bin/python -m inflow_dev.sources --invoke-url "$base" >"$tmp/workers.log" 2>&1 </dev/null &
workers_pid=$!
.venv/bin/python -m inflow_dev.webhook_receiver "$recv_port" "$tmp/deliveries.jsonl" &
receiver_pid=$!

# The stack: its outputs name this emulator's resources and the local API, as a deploy's would.
stack="inflow-smoke-$(date +%s)-$RANDOM"
.venv/bin/python - "$stack" "$base/" <<'PY'
import json, os, sys
import boto3
stack, api_url = sys.argv[1:3]
outputs = {
    "ApiUrl": api_url,
    "TableName": os.environ["TABLE_NAME"],
    "AppSecretArn": os.environ["APP_SECRET_ID"],
    "WebhookQueueUrl": os.environ["WEBHOOK_QUEUE_URL"],
    "EmailQueueUrl": os.environ["EMAIL_QUEUE_URL"],
    "RelayDLQUrl": os.environ["RELAY_DLQ_URL"],
}
template = {
    "Resources": {"Marker": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{stack}-marker"}}},
    "Outputs": {k: {"Value": v} for k, v in outputs.items()},
}
boto3.client("cloudformation").create_stack(StackName=stack, TemplateBody=json.dumps(template))
PY

failures=0
verdict() { if [[ $1 == ok ]]; then echo "  ok    $2"; else echo "  FAIL  $2"; failures=$((failures + 1)); fi; }
orgs() { "$ctl" org list | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["organizations"]))'; }
# Only the emulator and the stack: none of the names the stack's outputs give.
without_names=(env -u TABLE_NAME -u APP_SECRET_ID -u WEBHOOK_QUEUE_URL -u EMAIL_QUEUE_URL -u RELAY_DLQ_URL -u WEBHOOK_DLQ_URL SMOKE_BUILD=0)

before=$(orgs)
out=$("${without_names[@]}" DRY_RUN=1 scripts/smoke.sh --stack "$stack" 2>&1) || true
[[ $out == *"API $base/  table $TABLE_NAME"* && $out == *"nothing created"* && $(orgs) == "$before" ]] \
  && verdict ok "DRY_RUN=1 --stack: URL and table from the stack's outputs, nothing created" \
  || { verdict fail "DRY_RUN=1 --stack"; echo "$out"; }

out=$("${without_names[@]}" WEBHOOK_URL="http://127.0.0.1:$recv_port/hook" WEBHOOK_LOG="$tmp/deliveries.jsonl" \
  scripts/smoke.sh --stack "$stack" 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    /'
[[ $rc == 0 && $out == *", 0 failed"* && $out == *"signature verifies"* && $out == *"admin key no longer works"* ]] \
  && verdict ok "--stack: every family, the webhook signature, the clean-up" \
  || { verdict fail "--stack (rc $rc)"; tail -n 20 "$tmp/workers.log"; }

out=$(SMOKE_BUILD=0 scripts/smoke.sh --url "$base/" 2>&1) && rc=0 || rc=$?
[[ $rc == 0 && $out == *", 0 failed"* ]] && verdict ok "--url with the names from the environment" \
  || { verdict fail "--url (rc $rc)"; echo "$out"; }

out=$("${without_names[@]}" scripts/smoke.sh --stack "no-such-$stack" 2>&1) && rc=0 || rc=$?
[[ $rc != 0 && $out == *"no-such-$stack"* ]] && verdict ok "a stack that does not exist fails, naming it" \
  || { verdict fail "missing stack (rc $rc)"; echo "$out"; }

((failures == 0)) || { tail -n 30 "$log"; exit 1; }
rm -f "$log"
