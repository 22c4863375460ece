#!/usr/bin/env bash
# Schema-driven tests: schemathesis generates requests from openapi.yaml and sends them through
# the real local path (the local API Gateway, inflow_dev.gateway, with the routes of template.yaml
# -> the function binaries -> the emulator already running on 127.0.0.1:MOTO_PORT), checking
# every response against the document.
#   scripts/schemathesis.sh MOTO_PORT            (make test runs it)
#   ST_MAX_EXAMPLES=100 ST_SEED=$RANDOM scripts/schemathesis.sh MOTO_PORT   more, and other, examples
#
# Checks (schemathesis 4, `st run --checks`):
#   not_a_server_error            no 5xx, ever
#   status_code_conformance       every status is one the document lists for the operation
#   content_type_conformance      every body has a documented media type
#   response_headers_conformance  documented required headers (X-Request-ID, the rate-limit
#                                 headers, Retry-After on 429) are present and typed
#   response_schema_conformance   every body matches its schema (each family's own error shape)
#   negative_data_rejection       a request that violates the document gets a 4xx
#   missing_required_header       a request without a required header is refused
#   ignored_auth                  an operation with security refuses a request without credentials
#   use_after_free                a deleted invitation is gone (404) afterwards
#   ensure_resource_availability  what a create returns can be read through the document's links
# Left out, because they cannot hold by design:
#   positive_data_acceptance      a schema cannot say everything the API checks, so some
#                                 schema-valid requests get 400 on purpose: a `dueDate` in the past
#                                 (the seed's own example), `ttl` together with `expireTime`, a
#                                 create of a user group without `name` (required only when
#                                 `current_token` is empty), an address on a domain without a dot.
#   unsupported_method, allow_header_conformance
#                                 an unrouted method never reaches a function: API Gateway answers
#                                 404 (in AWS, and inflow_dev.gateway here), not 405.
#   object_level_authorization    needs a second identity configured in schemathesis; tenancy (another
#                                 organization's key gets 404) is tested in tests/it/*.rs.
# The gateway hands every generated request over as API Gateway would: non-ASCII header values
# and non-UTF-8 bodies included (inflow_dev.schemathesis_hooks says what it changes, and why).
set -euo pipefail
export MOTO_PORT=${1:?usage: scripts/schemathesis.sh MOTO_PORT}
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"
cd "$ROOT"

max_examples=${ST_MAX_EXAMPLES:-20}

curl -sf -o /dev/null --max-time 5 "$AWS_ENDPOINT_URL/moto-api/" ||
  { echo "schemathesis: no emulator answers at $AWS_ENDPOINT_URL" >&2; exit 1; }
[[ -x .venv/bin/st ]] || { echo "schemathesis: .venv/bin/st missing; run scripts/tools.sh" >&2; exit 1; }

cargo build --workspace --quiet
ctl=$INFLOWCTL
"$ctl" bootstrap >/dev/null
# An enterprise organization (1000 requests a minute), so rate limits stay out of the way.
seed=$(scripts/seed.sh "st-$(date +%s)-$RANDOM")
org_id=$(json_get orgId <<<"$seed")
"$ctl" org set-tier --org "$org_id" --tier enterprise >/dev/null
INFLOW_ADMIN_KEY=$(json_get adminKey <<<"$seed")
INFLOW_USER_KEY=$(json_get userKey <<<"$seed")
INFLOW_ORG_SLUG=$(json_get slug <<<"$seed")
INFLOW_FLOW_ID=$(json_get flowId <<<"$seed")
INFLOW_USER_EMAIL=$(json_get userEmail <<<"$seed")
INFLOW_USER_TOKEN=$("$ctl" token mint --org "$org_id" --user "$INFLOW_USER_EMAIL" | json_get token)
export INFLOW_ADMIN_KEY INFLOW_USER_KEY INFLOW_ORG_SLUG INFLOW_FLOW_ID INFLOW_USER_EMAIL INFLOW_USER_TOKEN

api_port=$(free_port)
base=http://127.0.0.1:$api_port
mkdir -p .dev
log=.dev/schemathesis-gateway-$api_port.log
report=.dev/schemathesis-report-$api_port
# Absolute URLs (invitation `url`, `Link`) name this server, not make dev's.
export PUBLIC_BASE_URL=$base
GATEWAY_PID=
trap stop_gateway EXIT
trap 'exit 130' INT TERM
# Every function is initialised (one instance each) before the gateway answers.
start_gateway "$api_port" "$log" --access-log

echo "schemathesis: API at $base (log $log), organization $INFLOW_ORG_SLUG, $max_examples examples per operation"
status=0
.venv/bin/st --config-file scripts/schemathesis.toml run openapi.yaml \
  --url "$base" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,missing_required_header,ignored_auth,use_after_free,ensure_resource_availability \
  --max-examples "$max_examples" \
  --seed "${ST_SEED:-20261122}" \
  --no-color \
  --report junit --report-dir "$report" || status=$?

if ((status != 0)); then
  echo "schemathesis: FAILED (exit $status); last lines of $log:"
  tail -n 40 "$log"
  exit "$status"
fi
rm -rf "$log" "$report"
