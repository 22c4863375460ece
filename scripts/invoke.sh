#!/usr/bin/env bash
# make invoke FN=<function> [EVENT=events/….json]: an events/ sample through the running
# `make dev`, with its seeded keys and ids substituted (inflow_dev.invoke says how).
# MOTO_PORT and API_PORT as make dev's (4566, 9000).
set -euo pipefail
export MOTO_PORT=${MOTO_PORT:-4566}
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"
cd "$ROOT"
exec .venv/bin/python -m inflow_dev.invoke "$@"
