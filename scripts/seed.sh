#!/usr/bin/env bash
# Seeds one organization with a user and a flow through inflowctl, and prints one JSON line:
#   {"orgId", "slug", "adminKey", "userKey", "userEmail", "flowId"}
#   MOTO_PORT=4566 scripts/seed.sh SLUG
# Needs a built inflowctl ($INFLOWCTL, from scripts/env.sh) and a bootstrapped emulator.
set -euo pipefail
slug=${1:?usage: scripts/seed.sh SLUG}
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"
cd "$ROOT"

ctl=$INFLOWCTL
email=jane@example.com

org=$("$ctl" org create --name "Demo Org" --slug "$slug" --tier standard)
org_id=$(json_get organization.id <<<"$org")
admin_key=$(json_get adminKey <<<"$org")
user_key=$(json_get userKey <<<"$org")
"$ctl" user create --org "$org_id" --email "$email" --name "Jane Doe" >/dev/null
flow=$("$ctl" flow create --org "$org_id" --slug onboarding --name "Customer Onboarding" \
  --modules 5 --estimated-duration "2 hours")
flow_id=$(json_get id flow.id <<<"$flow")

python3 -c 'import json, sys
keys = ["orgId", "slug", "adminKey", "userKey", "userEmail", "flowId"]
print(json.dumps(dict(zip(keys, sys.argv[1:]))))' \
  "$org_id" "$slug" "$admin_key" "$user_key" "$email" "$flow_id"
