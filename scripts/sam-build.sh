#!/usr/bin/env bash
# `sam build` of template.yaml, the way a deploy builds it, then a check that every function in
# the template got an arm64 bootstrap.
#   scripts/sam-build.sh            release profile into .aws-sam/build (make build, make deploy)
#   scripts/sam-build.sh --check    SAM's debug mode (the dev profile) into .dev/sam-build (make test)
#
# Every function first, in one cargo invocation: cargo then compiles the crates once and links the
# binaries side by side, and SAM's per-function `cargo lambda build --bin X` finds each one fresh.
# make test uses the dev profile because the release profile links each binary with fat LTO:
# ~10 min here with warm dependencies, ~20 min cold (docs/local-stack.md, "Building"). The check is
# of the deploy path (template, cargo-lambda, zig, arm64); `make bench` measures release builds.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PWD/.venv-sam/bin:$PATH" SAM_CLI_TELEMETRY=0

if [[ ${1:-} == --check ]]; then
  build_dir=.dev/sam-build
  cargo lambda build --arm64 -p inflow-functions
  SAM_BUILD_MODE=debug sam build --build-dir "$build_dir"
else
  build_dir=.aws-sam/build
  cargo lambda build --release --arm64 -p inflow-functions
  sam build
fi

# Every AWS::Serverless::Function of the template has an aarch64 ELF executable named bootstrap.
.venv/bin/python - "$build_dir" <<'EOF'
import pathlib, sys
# The template's functions as the local platform reads them (it knows CloudFormation's short tags).
from inflow_dev.template import load_template
build = pathlib.Path(sys.argv[1])
specs = load_template("template.yaml").functions
functions = [spec.logical_id for spec in specs.values()]
bad = []
for name in functions:
    bootstrap = build / name / "bootstrap"
    head = bootstrap.read_bytes()[:20] if bootstrap.is_file() else b""
    # ELF magic, then e_machine (bytes 18-19, little-endian) 0xB7 = AArch64.
    if head[:4] != b"\x7fELF" or head[18:20] != b"\xb7\x00":
        bad.append(name)
print(f"sam build: {len(functions) - len(bad)} of {len(functions)} functions have an arm64 bootstrap in {build}")
if bad or not functions:
    print("not built for arm64: " + ", ".join(bad or ["(no functions found in template.yaml)"]))
    sys.exit(1)
EOF
