#!/usr/bin/env bash
# Installs the project-local tools a target needs, when missing; a re-run with nothing to do is
# instant. No target needs root.
#   scripts/tools.sh dev      .venv: moto[server] + cargo-lambda (scripts/requirements-dev.txt)
#                             + the local platform, inflow_dev (tools/inflow_dev)
#   scripts/tools.sh bench    the same
#   scripts/tools.sh deploy   .venv, and .venv-sam: aws-sam-cli + cfn-lint + cargo-lambda
#                             (scripts/requirements-sam.txt) + inflow_dev without its dependencies
#   scripts/tools.sh test     .venv, .venv-sam, and chromium + chromedriver (Debian packages) for
#                             the accept page's browser test: installed when run as root with
#                             apt-get; otherwise that test is skipped with a line saying so,
#                             except in CI (CI=true), where their absence is an error.
# Two venvs because aws-sam-cli would downgrade the boto3 that moto wants.
set -euo pipefail
cd "$(dirname "$0")/.."

need=${1:-test}
case $need in
dev | bench | deploy | test) ;;
*) echo "usage: scripts/tools.sh dev|bench|deploy|test" >&2; exit 2 ;;
esac

# Linux only (docs/local-stack.md, "Supported platform"): the scripts use setsid, bash 4 and, in the local
# front, PR_SET_PDEATHSIG. Say so here, first, rather than fail halfway (written for bash 3.2).
if [ "$(uname -s)" != Linux ] || [ "${BASH_VERSINFO[0]:-0}" -lt 4 ]; then
  echo "tools: Linux with bash 4 or newer is required (this is $(uname -s), bash $BASH_VERSION);" \
    "see docs/local-stack.md, \"Supported platform\": use a Linux VM or container" >&2
  exit 1
fi

# ensure_venv DIR REQUIREMENTS: (re)installs when the requirements file or the package's
# pyproject.toml changed, or the package is not importable from DIR (a venv made before it, or a
# checkout moved). The package is installed editable: a change of its code needs no re-run.
PACKAGE=tools/inflow_dev
ensure_venv() {
  local dir=$1 req=$2 hash marker
  hash=$(cat "$req" "$PACKAGE/pyproject.toml" | sha256sum | cut -c1-16)
  marker="$dir/.installed-$hash"
  if [[ -f $marker && -x $dir/bin/python3 ]] &&
    "$dir/bin/python3" -c 'import inflow_dev, sys; sys.exit(not inflow_dev.ROOT.samefile(sys.argv[1]))' "$PWD" 2>/dev/null; then
    return 0
  fi
  echo "tools: installing $dir from $req and $PACKAGE (once; about a minute)"
  if ! "$dir/bin/python3" -c '' 2>/dev/null; then
    rm -rf "$dir"
    python3 -m venv "$dir"
  fi
  "$dir/bin/python3" -m pip install --quiet --disable-pip-version-check -r "$req"
  # Its dependencies are the pins just installed (requirements-dev.txt); none are resolved again.
  "$dir/bin/python3" -m pip install --quiet --disable-pip-version-check --no-deps -e "$PACKAGE"
  rm -f "$dir"/.installed-*
  touch "$marker"
}

# 3.11+: the pins were resolved on 3.11, and the scripts read Cargo.toml with tomllib.
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null ||
  { echo "tools: python3 3.11 or newer is required" >&2; exit 1; }
command -v cargo >/dev/null || { echo "tools: cargo (rustup) is required" >&2; exit 1; }
command -v curl >/dev/null || { echo "tools: curl is required" >&2; exit 1; }

ensure_venv .venv scripts/requirements-dev.txt
[[ $need == dev || $need == bench ]] && exit 0
ensure_venv .venv-sam scripts/requirements-sam.txt
[[ $need == deploy ]] && exit 0

# Headless Chromium and its driver, from Debian, for the accept page's browser test
# (tools/inflow_dev/tests/stack/browser_test.py): installed as root on a fresh machine; otherwise
# the test is skipped (scripts/test.sh says so), except in CI.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "tools: installing chromium and chromium-driver from Debian (once)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  elif [[ ${CI:-} == true ]]; then
    echo "tools: CI needs chromium and chromedriver for the browser test: apt-get install chromium chromium-driver" >&2
    exit 1
  else
    echo "tools: no chromium or chromedriver here: make test will skip the browser test" \
      "(apt-get install chromium chromium-driver, as root, to run it)" >&2
  fi
fi
