#!/usr/bin/env bash
# HTTP smoke test over the real local path: curl -> the local API Gateway (inflow_dev.gateway,
# the routes of template.yaml) -> the function binaries -> the emulator already running on
# 127.0.0.1:MOTO_PORT.
# Then the jobs' path, as make dev runs it: the table's stream -> the relay -> the queues ->
# the webhook and email workers (inflow_dev.sources) -> a local webhook receiver, whose
# deliveries are verified with the Standard Webhooks library, and the emulator's sent mail.
#   scripts/smoke.sh MOTO_PORT
# A deployed stack instead (make smoke): scripts/smoke.sh --url URL | --stack NAME, which runs
# scripts/smoke-deployed.sh (read it for what it checks).
set -euo pipefail
case ${1:-} in
--url | --stack) exec "$(dirname "$0")/smoke-deployed.sh" "$@" ;;
esac
export MOTO_PORT=${1:?usage: scripts/smoke.sh MOTO_PORT | --url URL | --stack NAME}
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"
cd "$ROOT"

curl -sf -o /dev/null --max-time 5 "$AWS_ENDPOINT_URL/moto-api/" ||
  { echo "smoke: no emulator answers at $AWS_ENDPOINT_URL" >&2; exit 1; }

# The gateway runs the built binaries.
cargo build --workspace --quiet
"$INFLOWCTL" bootstrap >/dev/null
ses_identity
seed=$(scripts/seed.sh "smoke-$(date +%s)-$RANDOM")
sk=$(json_get adminKey <<<"$seed")
pk=$(json_get userKey <<<"$seed")
slug=$(json_get slug <<<"$seed")
org_id=$(json_get orgId <<<"$seed")
flow_id=$(json_get flowId <<<"$seed")
email=$(json_get userEmail <<<"$seed")

api_port=$(free_port)
base=http://127.0.0.1:$api_port
mkdir -p .dev
log=.dev/smoke-gateway-$api_port.log
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

# CORS as make dev has it: any origin.
start_gateway "$api_port" "$log" --access-log --cors-origins '*'

# shellcheck source=scripts/smoke-lib.sh
. scripts/smoke-lib.sh

json=(-H "Content-Type: application/json")
auth=(-H "Authorization: Bearer $sk")
echo "smoke: API at $base (log $log)"

call POST /v1/flows/assign "${auth[@]}" "${json[@]}" -H "X-Request-ID: smoke-req-1" \
  -d "{\"flowId\":\"$flow_id\",\"userEmail\":\"$email\",\"priority\":\"high\"}"
expect "POST /v1/flows/assign -> 200" 200 \
  'b.get("success") is True and str(b.get("assignmentId", "")).startswith("asgn_")'
[[ $RID == smoke-req-1 ]] || { failed=$((failed + 1)); echo "  FAIL  X-Request-ID not echoed (got '$RID')"; }
asgn=$(json_get assignmentId <<<"$BODY" 2>/dev/null || echo asgn_missing)

call POST /v1/flows/assign "${json[@]}" -d "{\"flowId\":\"$flow_id\",\"userEmail\":\"$email\"}"
expect "POST /v1/flows/assign without a key -> 401" 401

call GET "/v1/assignments/$asgn" "${auth[@]}"
expect "GET /v1/assignments/{id} -> 200" 200

call POST "/v1/assignments/$asgn/start" "${auth[@]}" "${json[@]}" -d '{}'
expect "POST /v1/assignments/{id}/start -> 200" 200

call POST "/v1/assignments/$asgn/complete" "${auth[@]}" "${json[@]}" -d '{}'
expect "POST /v1/assignments/{id}/complete -> 200" 200

# Seed 001 through the router (a static segment beside a path parameter).
call POST "/flows/$slug/onboarding/invitations" "${auth[@]}" "${json[@]}" -d '{"email":"smoke@example.com"}'
expect "POST /flows/{org}/{flow}/invitations -> 201" 201 'b["id"] == 1 and b["state"] == "pending" and b["url"].startswith("http")'
call POST "/flows/$slug/onboarding/invitations/import" "${auth[@]}" "${json[@]}" -d '{"list":"a@example.com, \"Joe\" <joe@example.com>"}'
expect "POST /flows/{org}/{flow}/invitations/import -> 200" 200 'len(b["invitations"]) == 2'
call GET "/flows/$slug/onboarding/invitations" "${auth[@]}"
expect "GET /flows/{org}/{flow}/invitations -> 200" 200 'len(b) == 3'
call DELETE "/flows/$slug/onboarding/invitations/1" "${auth[@]}"
[[ $STATUS == 204 && -z $BODY ]] && BODY='{}'
expect "DELETE /flows/{org}/{flow}/invitations/1 -> 204" 204

# Seeds 003/004: colons inside a path segment, as UserHub's clients send them.
call POST "/admin/v1/flows:createJoinOrganization" "${auth[@]}" "${json[@]}" -d '{"email":"joiner@example.com","ttl":"3600s"}'
expect "POST /admin/v1/flows:createJoinOrganization -> 200" 200 'b["state"] == "START_PENDING" and "secret" in b'
flow_secret=$(json_get secret <<<"$BODY" 2>/dev/null || echo missing)
inv_id=$(json_get id <<<"$BODY" 2>/dev/null || echo missing)
call GET "/admin/v1/flows/$inv_id" "${auth[@]}"
expect "GET /admin/v1/flows/{flowId} -> 200" 200 '"secret" not in b'
call POST "/user/v1/flows/$flow_secret:consume" -H "UserHub-Api-Key: $pk" -H "UserHub-Api-Version: 2022-11-15"
expect "POST /user/v1/flows/{secret}:consume -> 200" 200 'b["state"] == "COMPLETED"'
call POST "/admin/v1/flows:createSignup" "${auth[@]}" "${json[@]}" -d '{"email":"signup@example.com"}'
signup_id=$(json_get id <<<"$BODY" 2>/dev/null || echo missing)
call POST "/admin/v1/flows/$signup_id:cancel" "${auth[@]}"
expect "POST /admin/v1/flows/{flowId}:cancel -> 200" 200 'b["state"] == "CANCELED"'

# Seed 002.
call POST /api/user -H "Authorization: Token $sk" "${json[@]}" -d '{"name":"Example 1","provided_id":"example_1","current_token":""}'
expect "POST /api/user -> 200" 200 'b["success"] == 1 and isinstance(b["user_group"]["team_id"], int)'

# A browser app on another origin (the gateway allows any, as make dev does): its preflight, then
# the request itself, whose rate-limit and request-id headers it must be allowed to read.
pre=$(curl -s -o /dev/null -D - --max-time 30 -X OPTIONS "$base/user/v1/flows/x:consume" \
  -H "Origin: http://localhost:5173" -H "Access-Control-Request-Method: POST" \
  -H "Access-Control-Request-Headers: userhub-api-key,content-type" | tr -d '\r' | tr 'A-Z' 'a-z')
call GET "/v1/assignments/$asgn" "${auth[@]}" -H "Origin: http://localhost:5173"
cross=$(tr -d '\r' <"$tmp/headers" | tr 'A-Z' 'a-z')
if [[ $pre == "http/1.1 204"* && $pre == *"access-control-allow-origin: *"* && $pre == *"access-control-allow-headers: "*userhub-api-key* \
      && $STATUS == 200 && $cross == *"access-control-allow-origin: *"* && $cross == *"access-control-expose-headers: "*x-ratelimit-remaining* ]]; then
  passed=$((passed + 1))
  echo "  ok    CORS: preflight 204 and the cross-origin request allowed, its headers exposed"
else
  failed=$((failed + 1))
  echo "  FAIL  CORS: preflight: ${pre:0:400} | request $STATUS: ${cross:0:400}"
fi

# The jobs' path. A receiver, subscribed to flow.assigned; the event sources of make dev.
recv_port=$(free_port)
.venv/bin/python -m inflow_dev.webhook_receiver "$recv_port" "$tmp/deliveries.jsonl" &
receiver_pid=$!
whsec=$("$INFLOWCTL" webhook add --org "$org_id" --url "http://127.0.0.1:$recv_port/hook" \
  --events flow.assigned | json_get secret)
listed=$("$INFLOWCTL" webhook list --org "$org_id")
if json_get endpoints <<<"$listed" | grep -q "127.0.0.1:$recv_port/hook"; then
  passed=$((passed + 1)); echo "  ok    inflowctl webhook list shows the endpoint"
else
  failed=$((failed + 1)); echo "  FAIL  inflowctl webhook list: $listed"
fi
.venv/bin/python -m inflow_dev.sources --invoke-url "$base" >"$tmp/workers.log" 2>&1 </dev/null &
workers_pid=$!
call POST /v1/flows/assign "${auth[@]}" "${json[@]}" -H "X-Request-ID: smoke-stream-1" \
  -d "{\"flowId\":\"$flow_id\",\"userEmail\":\"$email\"}"
expect "POST /v1/flows/assign (for the webhook) -> 200" 200
streamed=$(json_get assignmentId <<<"$BODY" 2>/dev/null || echo asgn_missing)
call POST "/flows/$slug/onboarding/invitations" "${auth[@]}" "${json[@]}" -d '{"email":"streamed@example.com"}'
expect "POST /flows/{org}/{flow}/invitations (for the email) -> 201" 201
verdict=""
for _ in $(seq 1 240); do
  verdict=$(.venv/bin/python - "$tmp/deliveries.jsonl" "$whsec" "$streamed" "$AWS_ENDPOINT_URL" <<'PY' 2>&1
import json, sys, urllib.request
from standardwebhooks.webhooks import Webhook
path, secret, assignment, emulator = sys.argv[1:5]
try:
    lines = [json.loads(l) for l in open(path)]
except OSError:
    lines = []
mine = []
for d in lines:
    event = Webhook(secret).verify(d["body"], d["headers"])  # raises on a bad signature
    if event["type"] == "flow.assigned" and event["data"]["assignmentId"] == assignment:
        mine.append(event)
mail = json.load(urllib.request.urlopen(emulator + "/_inflow/sent-mail"))
invited = [m for m in mail if "streamed@example.com" in json.dumps(m.get("destinations"))]
if len(mine) == 1 and mine[0]["requestId"] == "smoke-stream-1" and len(invited) == 1 and "/accept?secret=" in invited[0]["body"]:
    print("ok")
else:
    print(f"waiting: {len(mine)} verified flow.assigned for {assignment}, {len(invited)} invitation mail")
PY
  ) || true
  [[ $verdict == ok ]] && break
  sleep 0.5
done
if [[ $verdict == ok ]]; then
  passed=$((passed + 1))
  echo "  ok    flow.assigned through the stream, relay and worker, signature verified (standardwebhooks); the invitation mail sent"
else
  failed=$((failed + 1))
  echo "  FAIL  jobs through the stream: $verdict"
  tail -n 30 "$tmp/workers.log"
fi

# inflowctl's self-service commands, as an operator runs them.
ctl=$INFLOWCTL
# The operator's list of accept-URL hosts (template.yaml's AcceptUrlHosts) allows this one.
ACCEPT_URL_HOSTS=join.example.com "$ctl" org update --org "$org_id" --invitation-ttl 7200s \
  --accept-url-template "https://join.example.com/accept?s={secret}" >/dev/null || true
check "inflowctl org update, then get: the settings" \
  'b["invitationTtl"] == "7200s" and b["acceptUrlTemplate"].endswith("?s={secret}")' \
  "$("$ctl" org get --org "$org_id")"
check "inflowctl org update default: reset" 'b["invitationTtl"] is None and b["acceptUrlTemplate"] is None' \
  "$("$ctl" org update --org "$org_id" --invitation-ttl default --accept-url-template default)"
endpoint_id=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["endpoints"][0]["id"])' \
  "$("$ctl" webhook list --org "$org_id")" 2>/dev/null || echo whk_missing)
check "inflowctl webhook remove" 'b["removed"] is True' \
  "$("$ctl" webhook remove --org "$org_id" --id "$endpoint_id" 2>&1)"
check "inflowctl webhook list: none left" 'b["endpoints"] == []' "$("$ctl" webhook list --org "$org_id")"

echo "smoke: $passed passed, $failed failed"
if ((failed > 0)); then
  echo "smoke: last lines of $log:"
  tail -n 40 "$log"
  exit 1
fi
rm -f "$log"
