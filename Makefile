# Inflow. `make dev` serves the API locally; `make test` runs every CI check. See scripts/.
.PHONY: dev test bench build deploy clean-tools

# Project venvs first on PATH: cargo-lambda runs `python3 -m ziglang` from the PATH python3.
TOOLS_PATH := $(CURDIR)/.venv/bin:$(CURDIR)/.venv-sam/bin:$(PATH)

dev:
	scripts/dev.sh

test:
	scripts/test.sh

bench:
	@if [ -x scripts/bench.sh ]; then scripts/bench.sh; else echo "no benchmarks yet"; exit 1; fi

# What `sam deploy` ships: every function, release profile, arm64, into .aws-sam/build.
build:
	scripts/tools.sh
	scripts/sam-build.sh

# Uses your real AWS credentials (no scripts/env.sh here). Guided the first time only, then
# non-interactive from samconfig.toml; STACK= PROFILE= REGION= PARAMS= override it, DRY_RUN=1
# prints the commands (scripts/deploy.sh says all).
deploy:
	scripts/deploy.sh

clean-tools:
	rm -rf .venv .venv-sam
