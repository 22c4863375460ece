# shellcheck shell=bash
# Sourced (not run) by the other scripts: the environment of the local stack.
#   MOTO_PORT=4566 . scripts/env.sh
# Everything points at the local emulator with dummy credentials, so nothing here
# can reach a real AWS account. Do not source this before `sam deploy`.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

# .venv first: cargo-lambda runs `python3 -m ziglang` with the python3 found on PATH,
# and only the venvs have ziglang. .venv-sam after it, for `sam`.
export PATH="$ROOT/.venv/bin:$ROOT/.venv-sam/bin:$PATH"

export MOTO_PORT="${MOTO_PORT:-4566}"

# The operator's command line as `cargo build` leaves it (CARGO_TARGET_DIR honoured).
export INFLOWCTL="${CARGO_TARGET_DIR:-$ROOT/target}/debug/inflowctl"

# Dummy credentials, always: a real profile or session must not leak into local runs.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:${MOTO_PORT}"
export SAM_CLI_TELEMETRY=0

# The app's configuration (names from shared/src/config.rs). moto's account id is 123456789012.
export TABLE_NAME="${TABLE_NAME:-inflow}"
export APP_SECRET_ID="${APP_SECRET_ID:-inflow/app-secret}"
export WEBHOOK_QUEUE_URL="$AWS_ENDPOINT_URL/123456789012/inflow-webhooks"
export EMAIL_QUEUE_URL="$AWS_ENDPOINT_URL/123456789012/inflow-email"
# The webhook worker: its dead-letter queue; local mode may call loopback and private targets.
export WEBHOOK_DLQ_URL="$AWS_ENDPOINT_URL/123456789012/inflow-webhooks-dlq"
# The relay's event source gives up on stream batches into this queue (inflow_dev.sources).
export RELAY_DLQ_URL="$AWS_ENDPOINT_URL/123456789012/inflow-relay-dlq"
export ALLOW_PRIVATE_WEBHOOK_TARGETS="${ALLOW_PRIVATE_WEBHOOK_TARGETS:-true}"
# The email worker: the From address (dev.sh makes its domain an SES identity in the emulator)
# and where accept links point. Invitation URLs use the local API's address.
export SENDER_EMAIL="${SENDER_EMAIL:-noreply@inflow.example.com}"
export ACCEPT_URL_TEMPLATE="${ACCEPT_URL_TEMPLATE:-http://127.0.0.1:${API_PORT:-9000}/accept?secret={secret}}"
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://127.0.0.1:${API_PORT:-9000}}"

# start_gateway PORT LOG [gateway options...]: the local API Gateway (inflow_dev.gateway) with
# every function of template.yaml (built binaries in target/debug), on 127.0.0.1:PORT, in its own
# session and process group (so that `kill -- -$GATEWAY_PID` stops it and every function process).
# Returns once it answers: every function has one initialised instance by then. The functions
# inherit this environment. LOG "-" keeps the output on the terminal.
start_gateway() {
  local port=$1 log=$2
  shift 2
  if [[ $log == - ]]; then
    setsid "$ROOT/.venv/bin/python" -m inflow_dev.gateway --port "$port" "$@" </dev/null &
  else
    setsid "$ROOT/.venv/bin/python" -m inflow_dev.gateway --port "$port" "$@" >"$log" 2>&1 </dev/null &
  fi
  GATEWAY_PID=$!
  local _
  for _ in $(seq 1 240); do
    port_in_use "$port" && return 0
    if ! kill -0 "$GATEWAY_PID" 2>/dev/null; then
      echo "gateway: exited before answering on 127.0.0.1:$port" >&2
      [[ $log == - ]] || tail -n 30 "$log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "gateway: no answer on 127.0.0.1:$port after 120 s" >&2
  return 1
}

# Stops what start_gateway started (the gateway ends its function processes itself).
stop_gateway() {
  [[ -n ${GATEWAY_PID:-} ]] || return 0
  kill "$GATEWAY_PID" 2>/dev/null || true
  local _
  for _ in $(seq 1 50); do
    kill -0 "$GATEWAY_PID" 2>/dev/null || break
    sleep 0.1
  done
  # Whatever is left of its process group (nothing, normally).
  kill -9 -- "-$GATEWAY_PID" 2>/dev/null || true
  GATEWAY_PID=
}

# The sender's domain as an SES identity: the emulator refuses mail from unverified senders.
ses_identity() {
  "$ROOT/.venv/bin/python" - <<'PY'
import os
import boto3
ses = boto3.client("sesv2")
try:
    ses.create_email_identity(EmailIdentity=os.environ["SENDER_EMAIL"].rsplit("@", 1)[1])
except ses.exceptions.AlreadyExistsException:
    pass
PY
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port that is free right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Prints a field of the JSON document on stdin; each argument is a dotted path to try in turn:
#   json_get organization.id        json_get id flow.id
# Tolerates log lines around the document (it takes the last line that is a JSON object).
json_get() {
  python3 -c 'import json, sys
text = sys.stdin.read()
try:
    doc = json.loads(text)
except ValueError:
    doc = next((json.loads(l) for l in reversed(text.splitlines()) if l.strip().startswith("{")), {})
for path in sys.argv[1:]:
    v = doc
    for k in path.split("."):
        v = v.get(k) if isinstance(v, dict) else None
    if v is not None:
        print(v if isinstance(v, str) else json.dumps(v))
        sys.exit(0)
sys.exit("json_get: none of %s in: %s" % (sys.argv[1:], text.strip()[:300]))' "$@"
}
