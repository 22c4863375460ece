#!/usr/bin/env bash
# make smoke: the smoke test of a deployed stack, from outside, as a client and an operator would.
#   scripts/smoke.sh --stack NAME     the API URL, table and secret from the stack's outputs
#   scripts/smoke.sh --url URL        the API at URL; the table and secret from the environment
#                                     (TABLE_NAME, APP_SECRET_ID), or --stack as well
# Environment (make smoke passes its variables):
#   PROFILE, REGION  the AWS profile and region (else the usual chain: AWS_PROFILE, AWS_REGION)
#   WEBHOOK_URL      optional: a receiver of your choice (public https for a real stack), subscribed
#                    to flow.assigned; the stack must record its 2xx answer to a signed delivery
#   WEBHOOK_LOG      optional, with WEBHOOK_URL: the JSON-lines file inflow_dev.webhook_receiver
#                    writes, when that is the receiver: each delivery's signature is verified
#   DRY_RUN=1        resolve the stack and print the plan; create nothing
#
# What it does: creates an organization (slug smoke-<time>-<n>) with a user and a flow through
# inflowctl, calls each API family once (assignments, invitations, invitation flows, user groups,
# organization settings), the webhook round trip when asked, then cleans up: the webhook endpoint
# removed, the pending invitation deleted, both keys revoked. The organization's record stays,
# inert (no key works), as there is no organization delete; `inflowctl org list` shows it.
# Invitation emails go to SES's mailbox simulator (success+…@simulator.amazonses.com), which
# works in the SES sandbox and touches no real mailbox.
set -euo pipefail
cd "$(dirname "$0")/.."

stack= url=
while (($#)); do
  case $1 in
  --stack) stack=${2:?--stack needs a name}; shift 2 ;;
  --url) url=${2:?--url needs a URL}; shift 2 ;;
  *) echo "usage: scripts/smoke.sh --stack NAME | --url URL [--stack NAME]" >&2; exit 2 ;;
  esac
done

target=${CARGO_TARGET_DIR:-target}
ctl_bin=$target/debug/inflowctl
if [[ ! -x $ctl_bin || ${SMOKE_BUILD:-1} == 1 ]]; then
  cargo build -p inflowctl --quiet
fi
ctl_args=()
[[ -z $stack ]] || ctl_args+=(--stack "$stack")
[[ -z ${PROFILE:-} ]] || ctl_args+=(--profile "$PROFILE")
[[ -z ${REGION:-} ]] || ctl_args+=(--region "$REGION")
# inflowctl with the stack, profile and region (an empty array is spelt out for bash 3.2's set -u).
ctl() { "$ctl_bin" ${ctl_args[@]+"${ctl_args[@]}"} "$@"; }

# field PATH: a field of the JSON on stdin (dotted path), empty when absent.
field() {
  python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v if isinstance(v, str) else json.dumps(v))' "$1"
}

config=$(ctl config) || { echo "smoke: inflowctl cannot resolve the stack's names (above)" >&2; exit 1; }
[[ -n $url ]] || url=$(field values.API_URL.value <<<"$config")
[[ -n $url ]] || { echo "smoke: no API URL: pass --url, or --stack with an ApiUrl output" >&2; exit 1; }
base=${url%/}
table=$(field values.TABLE_NAME.value <<<"$config")
slug="smoke-$(date +%s)-$RANDOM"

echo "smoke: API $base/  table ${table:-?}  region $(field region <<<"$config")${stack:+  stack $stack}"
if [[ ${DRY_RUN:-} == 1 ]]; then
  cat <<EOF
smoke: DRY_RUN=1, nothing created. It would:
  inflowctl ${ctl_args[*]+${ctl_args[*]} }org create --name "Inflow smoke test" --slug $slug
  inflowctl ${ctl_args[*]+${ctl_args[*]} }user create / flow create in it
  call $base/v1/flows/assign, /v1/assignments/{id}, /flows/$slug/onboarding/invitations,
       /admin/v1/flows:createJoinOrganization, /admin/v1/flows/{id}, /user/v1/flows/{secret}:consume,
       /api/user, /v1/organization${WEBHOOK_URL:+, /v1/webhooks/endpoints (receiver $WEBHOOK_URL), /v1/webhooks/deliveries}
  clean up: ${WEBHOOK_URL:+the webhook endpoint, }the pending invitation, both keys revoked
EOF
  exit 0
fi

tmp=$(mktemp -d)
# shellcheck source=scripts/smoke-lib.sh
. scripts/smoke-lib.sh

org=$(ctl org create --name "Inflow smoke test" --slug "$slug")
org_id=$(field organization.id <<<"$org")
sk=$(field adminKey <<<"$org")
pk=$(field userKey <<<"$org")
key_ids=("$(field adminKeyId <<<"$org")" "$(field userKeyId <<<"$org")")
email=smoke-user@example.com
ctl user create --org "$org_id" --email "$email" --name "Smoke User" >/dev/null
# A second user, whose assignment is the webhook's event (the first one's would be an update).
ctl user create --org "$org_id" --email "webhook-$email" --name "Smoke Webhook" >/dev/null
flow=$(ctl flow create --org "$org_id" --slug onboarding --name "Smoke Onboarding")
flow_id=$(field id <<<"$flow")
[[ -n $flow_id ]] || flow_id=$(field flow.id <<<"$flow")
echo "smoke: organization $org_id (slug $slug)"

endpoint_id= invitation=
cleanup() {
  local status=$?
  trap - EXIT
  echo "smoke: cleaning up"
  if [[ -n $endpoint_id ]]; then
    call DELETE "/v1/webhooks/endpoints/$endpoint_id" -H "Authorization: Bearer $sk"
    [[ $STATUS == 204 ]] && pass "clean up: webhook endpoint removed" || fail "clean up: webhook endpoint" "status $STATUS"
  fi
  if [[ -n $invitation ]]; then
    call DELETE "/flows/$slug/onboarding/invitations/$invitation" -H "Authorization: Bearer $sk"
    [[ $STATUS == 204 ]] && pass "clean up: invitation deleted" || fail "clean up: invitation" "status $STATUS"
  fi
  local id
  for id in "${key_ids[@]}"; do
    if ctl key revoke --org "$org_id" --id "$id" >/dev/null; then pass "clean up: key $id revoked"; else fail "clean up: key $id"; fi
  done
  call GET /v1/organization -H "Authorization: Bearer $sk"
  [[ $STATUS == 401 ]] && pass "clean up: the admin key no longer works" || fail "clean up: admin key" "status $STATUS"
  rm -rf "$tmp"
  echo "smoke: $passed passed, $failed failed (organization $org_id stays, with no working key)"
  ((failed == 0 && status == 0)) || exit 1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

json=(-H "Content-Type: application/json")
auth=(-H "Authorization: Bearer $sk")

# Seed 000: assignments.
call POST /v1/flows/assign "${auth[@]}" "${json[@]}" -d "{\"flowId\":\"$flow_id\",\"userEmail\":\"$email\"}"
expect "POST /v1/flows/assign -> 200" 200 'b.get("success") is True and b["assignmentId"].startswith("asgn_")'
asgn=$(field assignmentId <<<"$BODY" 2>/dev/null || true)
call GET "/v1/assignments/${asgn:-missing}" "${auth[@]}"
expect "GET /v1/assignments/{id} -> 200" 200

# Seed 001: invitations of a flow (the email goes to SES's simulator).
call POST "/flows/$slug/onboarding/invitations" "${auth[@]}" "${json[@]}" \
  -d '{"email":"success+smoke-invitation@simulator.amazonses.com"}'
expect "POST /flows/{org}/{flow}/invitations -> 201" 201 'b["state"] == "pending" and b["url"].startswith("http")'
[[ $STATUS != 201 ]] || invitation=$(field id <<<"$BODY")
call GET "/flows/$slug/onboarding/invitations" "${auth[@]}"
expect "GET /flows/{org}/{flow}/invitations -> 200" 200 'len(b) == 1'

# Seeds 003/004: invitation flows, consumed by their secret with the publishable key.
call POST "/admin/v1/flows:createJoinOrganization" "${auth[@]}" "${json[@]}" \
  -d '{"email":"success+smoke-join@simulator.amazonses.com","ttl":"3600s"}'
expect "POST /admin/v1/flows:createJoinOrganization -> 200" 200 'b["state"] == "START_PENDING" and "secret" in b'
flow_secret=$(field secret <<<"$BODY" 2>/dev/null || true)
call GET "/admin/v1/flows/$(field id <<<"$BODY" 2>/dev/null || echo missing)" "${auth[@]}"
expect "GET /admin/v1/flows/{flowId} -> 200" 200 '"secret" not in b'
call POST "/user/v1/flows/${flow_secret:-missing}:consume" -H "UserHub-Api-Key: $pk"
expect "POST /user/v1/flows/{secret}:consume -> 200" 200 'b["state"] == "COMPLETED"'

# Seed 002: user groups.
call POST /api/user -H "Authorization: Token $sk" "${json[@]}" -d '{"name":"Smoke","provided_id":"smoke_1"}'
expect "POST /api/user -> 200" 200 'b["success"] == 1'

# Self-service: the organization as its admin sees it.
call GET /v1/organization "${auth[@]}"
expect "GET /v1/organization -> 200" 200 "b['id'] == '$org_id'"

# Webhooks, when a receiver is given: a signed delivery the receiver answered 2xx.
if [[ -n ${WEBHOOK_URL:-} ]]; then
  call POST /v1/webhooks/endpoints "${auth[@]}" "${json[@]}" \
    -d "{\"url\":\"$WEBHOOK_URL\",\"events\":[\"flow.assigned\"],\"description\":\"smoke test\"}"
  expect "POST /v1/webhooks/endpoints -> 201" 201 'b["secret"].startswith("whsec_")'
  endpoint_id=$(field id <<<"$BODY" 2>/dev/null || true)
  whsec=$(field secret <<<"$BODY" 2>/dev/null || true)
  call POST /v1/flows/assign "${auth[@]}" "${json[@]}" -H "X-Request-ID: smoke-webhook-$slug" \
    -d "{\"flowId\":\"$flow_id\",\"userEmail\":\"webhook-$email\"}"
  expect "POST /v1/flows/assign (for the webhook) -> 200" 200
  hooked=$(field assignmentId <<<"$BODY" 2>/dev/null || true)
  delivered=
  for _ in $(seq 1 120); do
    call GET "/v1/webhooks/deliveries?status=delivered" "${auth[@]}"
    delivered=$(python3 -c 'import json, sys
b = json.loads(sys.argv[1])
print(next((d["id"] for d in b.get("deliveries", []) if d["endpointId"] == sys.argv[2]
            and d["eventType"] == "flow.assigned" and any(200 <= (a.get("responseStatus") or 0) < 300 for a in d["attempts"])), ""))' \
      "$BODY" "$endpoint_id" 2>/dev/null || true)
    [[ -z $delivered ]] || break
    sleep 1
  done
  [[ -n $delivered ]] && pass "flow.assigned delivered to $WEBHOOK_URL (its 2xx recorded)" \
    || fail "webhook delivery" "none delivered to $WEBHOOK_URL in 120 s (GET /v1/webhooks/deliveries?status=failed says why)"
  if [[ -n ${WEBHOOK_LOG:-} ]]; then
    verdict=$(.venv/bin/python - "$WEBHOOK_LOG" "$whsec" "$hooked" <<'PY' 2>&1 || true
import json, sys
from standardwebhooks.webhooks import Webhook
path, secret, assignment = sys.argv[1:4]
verified = 0
try:
    lines = open(path).readlines()
except OSError as err:
    sys.exit(f"no deliveries: {err}")
for line in lines:
    d = json.loads(line)
    try:
        event = Webhook(secret).verify(d["body"], d["headers"])
    except Exception:
        continue  # another endpoint's delivery, or a bad signature: not counted
    verified += event["data"].get("assignmentId") == assignment
print("ok" if verified == 1 else f"{verified} verified deliveries of {assignment}")
PY
    )
    [[ $verdict == ok ]] && pass "the delivery's signature verifies (Standard Webhooks, $WEBHOOK_LOG)" \
      || fail "webhook signature" "$verdict"
  fi
fi
