# MoreMinimore: `make dev` runs the whole stack locally, `make test` checks everything.
# Both install what they need first (a Python venv, the SAM linter's venv, an npm tool).

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
CFN_VENV := .venv-cfn
STAMP := $(VENV)/.installed

.PHONY: install dev test lint typecheck pytest migrate openapi bench clean-local

install: $(STAMP)

$(STAMP): requirements-dev.txt layers/common/requirements.txt infra/package.json
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@# The layer and the repo root importable as they are on Lambda's path (/opt/python).
	@site=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	  printf '%s\n%s\n' "$(CURDIR)/layers/common" "$(CURDIR)" > $$site/moreminimore.pth
	@# cfn-lint 1.53.x is the last release that runs the SAM transform; its pins clash with ours.
	$(PYTHON) -m venv $(CFN_VENV)
	$(CFN_VENV)/bin/pip install --quiet 'cfn-lint==1.53.3'
	npm ci --prefix infra --no-audit --no-fund --silent
	touch $(STAMP)

dev: install
	$(PY) -m devstack

test: install lint typecheck pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

pytest: install
	$(PY) -m pytest $(PYTEST_ARGS)

migrate: install
	$(PY) -m mmctl migrate

openapi: install
	$(PY) -m mmctl openapi

bench: install
	$(PY) bench/api_latency.py
	$(PY) bench/auth.py
	$(PY) bench/versions.py
	$(PY) bench/generation.py

clean-local:
	rm -rf .local
