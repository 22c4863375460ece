# shellcheck shell=bash
# Sourced by scripts/smoke.sh and scripts/smoke-deployed.sh: HTTP calls and their checks.
# The caller sets `base` (the API's URL, no trailing slash) and `tmp` (a scratch directory).
passed=0 failed=0

# call METHOD PATH [curl args...]: sets STATUS, BODY and RID (the response's X-Request-ID).
call() {
  local method=$1 path=$2
  shift 2
  STATUS=$(curl -s --max-time 60 -X "$method" -D "$tmp/headers" -o "$tmp/body" -w '%{http_code}' \
    "$base$path" "$@") || STATUS=000
  BODY=$(cat "$tmp/body" 2>/dev/null || true)
  RID=$(tr -d '\r' <"$tmp/headers" 2>/dev/null | awk 'tolower($1) == "x-request-id:" { print $2 }' || true)
}

# expect NAME STATUS [PYTHON-CONDITION on the parsed body `b`]
expect() {
  local name=$1 want=$2 cond=${3:-True} why=""
  [[ $STATUS == "$want" ]] || why="status $STATUS, want $want"
  [[ -n $RID ]] || why="${why:+$why; }no X-Request-ID header"
  if [[ -z $why ]] && ! python3 -c "import json, sys; b = json.loads(sys.argv[1]); sys.exit(0 if ($cond) else 1)" \
      "$BODY" 2>/dev/null; then
    why="body fails: $cond"
  fi
  if [[ -z $why ]]; then
    passed=$((passed + 1))
    echo "  ok    $name"
  else
    failed=$((failed + 1))
    echo "  FAIL  $name: $why"
    echo "        body: ${BODY:0:500}"
  fi
}

# check NAME PYTHON-CONDITION JSON: the condition on the parsed JSON `b`.
check() {
  if python3 -c "import json, sys; b = json.loads(sys.argv[1]); sys.exit(0 if ($2) else 1)" "$3" 2>/dev/null; then
    passed=$((passed + 1)); echo "  ok    $1"
  else
    failed=$((failed + 1)); echo "  FAIL  $1: ${3:0:300}"
  fi
}

# A check that holds or not, with no HTTP call: pass NAME / fail NAME WHY.
pass() { passed=$((passed + 1)); echo "  ok    $1"; }
fail() { failed=$((failed + 1)); echo "  FAIL  $1${2:+: $2}"; }
