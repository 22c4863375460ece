# Inflow. `make dev` serves the API locally; `make test` runs every CI check. See scripts/.
.PHONY: dev test bench build deploy smoke invoke clean-tools

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
	scripts/tools.sh deploy
	scripts/sam-build.sh

# Uses your real AWS credentials (no scripts/env.sh here). Guided the first time only, then
# non-interactive from samconfig.toml; STACK= PROFILE= REGION= PARAMS= override it, DRY_RUN=1
# prints the commands (scripts/deploy.sh says all).
deploy:
	scripts/deploy.sh

# The smoke test of a deployed stack: make smoke STACK=inflow [PROFILE=… REGION=…] or URL=https://…
# (with TABLE_NAME / APP_SECRET_ID set); WEBHOOK_URL=… adds a webhook round trip to your receiver,
# DRY_RUN=1 resolves and prints the plan (scripts/smoke-deployed.sh says all).
smoke:
	@if [ -z "$(STACK)$(URL)" ]; then echo "usage: make smoke STACK=<stack name> | URL=<API URL>" >&2; exit 2; fi
	scripts/smoke.sh $(if $(STACK),--stack "$(STACK)") $(if $(URL),--url "$(URL)")

# An events/ sample through the running `make dev`, with its seeded keys and ids substituted:
# make invoke FN=get-assignment [EVENT=events/get-assignment.json]
invoke:
	@if [ -z "$(FN)" ]; then echo "usage: make invoke FN=<function> [EVENT=events/<sample>.json]" >&2; exit 2; fi
	scripts/invoke.sh "$(FN)" $(if $(EVENT),"$(EVENT)")

clean-tools:
	rm -rf .venv .venv-sam
