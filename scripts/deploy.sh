#!/usr/bin/env bash
# make deploy: `sam build` then `sam deploy` of template.yaml into a real AWS account.
#   First deploy (samconfig.toml has no saved parameters for the environment): `sam deploy
#   --guided`, which asks for the stack name, region and parameters once and saves them in
#   samconfig.toml. Every deploy after that reads samconfig.toml and asks nothing.
#
# Variables (make deploy STACK=... or the environment):
#   STACK        stack name (else samconfig.toml's stack_name)
#   PROFILE      AWS profile (else AWS_PROFILE / the default chain)
#   REGION       AWS region (else samconfig.toml's, AWS_REGION or the profile's)
#   PARAMS       parameter overrides, e.g. "SenderEmail=noreply@example.com StageName=prod";
#                given, no guided run is needed
#   CONFIG_ENV   samconfig.toml environment (default: default)
#   GUIDED=1     guided even with a saved configuration (to change it)
#   CONFIRM=1    show the change set and ask before executing it
#   NO_EXECUTE=1 create the change set only (sam deploy --no-execute-changeset): review it in
#                the console or with `aws cloudformation describe-change-set`
#   DRY_RUN=1    print the exact commands and run none (no AWS call, no build)
#   SAMCONFIG    the config file (default: samconfig.toml; the tests use their own)
#
# The per-function "has no authentication. Is this okay?" question of guided deploys is answered
# in template.yaml (HttpApi Auth): the functions check keys themselves, so SAM does not ask it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real credentials: never scripts/env.sh here. Project venvs first on PATH (cargo-lambda runs
# `python3 -m ziglang` with the PATH python3).
export PATH="$PWD/.venv/bin:$PWD/.venv-sam/bin:$PATH" SAM_CLI_TELEMETRY=0
samconfig=${SAMCONFIG:-samconfig.toml}
config_env=${CONFIG_ENV:-default}

# run CMD...: runs it, or prints it (shell-quoted, one line) under DRY_RUN=1.
run() {
  if [[ ${DRY_RUN:-} == 1 ]]; then
    printf '%q ' "$@" | sed 's/ $//'
    echo
  else
    "$@"
  fi
}

# Whether samconfig.toml holds a saved deploy for the environment: guided mode writes the
# template's parameters (SenderEmail has no default) as parameter_overrides.
saved_configuration() {
  [[ -f $samconfig ]] || return 1
  python3 - "$samconfig" "$config_env" <<'PY'
import sys, tomllib
path, env = sys.argv[1:3]
with open(path, "rb") as f:
    config = tomllib.load(f)
deploy = config.get(env, {}).get("deploy", {}).get("parameters", {})
sys.exit(0 if deploy.get("parameter_overrides") else 1)
PY
}

args=(--config-file "$samconfig" --config-env "$config_env")
[[ -z ${STACK:-} ]] || args+=(--stack-name "$STACK")
[[ -z ${PROFILE:-} ]] || args+=(--profile "$PROFILE")
[[ -z ${REGION:-} ]] || args+=(--region "$REGION")

if [[ ${GUIDED:-} == 1 ]] || { [[ -z ${PARAMS:-} ]] && ! saved_configuration; }; then
  mode=guided
  args+=(--guided)
else
  mode=saved
  if [[ -n ${PARAMS:-} ]]; then
    read -r -a overrides <<<"$PARAMS"
    args+=(--parameter-overrides "${overrides[@]}")
  fi
  [[ ${CONFIRM:-} == 1 ]] && args+=(--confirm-changeset) || args+=(--no-confirm-changeset)
  # A deploy with nothing changed is a success, not an error (make deploy twice in a row).
  args+=(--no-fail-on-empty-changeset)
fi
[[ ${NO_EXECUTE:-} == 1 ]] && args+=(--no-execute-changeset)

if [[ ${DRY_RUN:-} == 1 ]]; then
  echo "# make deploy: $mode ($samconfig, environment $config_env); DRY_RUN=1 runs nothing"
else
  echo "deploy: $mode ($samconfig, environment $config_env)"
  [[ $mode == guided ]] && echo "deploy: first deploy: SAM asks for the stack name, region and parameters once and saves them (see docs/operations.md, \"First deploy: a checklist\")"
fi
run scripts/tools.sh deploy
run scripts/sam-build.sh
run sam deploy "${args[@]}"
