#!/usr/bin/env bash
# The local stack under a 200-request burst, hostile input and browsers, through the local API
# Gateway (tools/inflow_dev/tests/stack/test_local_stack.py says what it checks), against the emulator already running
# on 127.0.0.1:MOTO_PORT.
#   scripts/test_local_stack.sh MOTO_PORT        (make test runs it)
set -euo pipefail
export MOTO_PORT=${1:?usage: scripts/test_local_stack.sh MOTO_PORT}
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"
cd "$ROOT"

curl -sf -o /dev/null --max-time 5 "$AWS_ENDPOINT_URL/moto-api/" ||
  { echo "local stack: no emulator answers at $AWS_ENDPOINT_URL" >&2; exit 1; }
# The gateway runs the built binaries.
cargo build --workspace --quiet
mkdir -p .dev
.venv/bin/python tools/inflow_dev/tests/stack/test_local_stack.py
