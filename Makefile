# MoreMinimore: `make dev` runs the whole stack locally, `make test` checks everything.
# Both install what they need first (a Python venv, the SAM linter's venv, an npm tool).

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
CFN_VENV := .venv-cfn
STAMP := $(VENV)/.installed

# pytest runs on two workers (pytest-xdist), each with its own local stack (embedded Postgres,
# moto) in its own temp folder. Against DATABASE_URL the workers would share one test database,
# so then it runs on one. PYTEST_WORKERS=0 runs in-process, PYTEST_ARGS adds pytest options.
PYTEST_WORKERS ?= $(if $(DATABASE_URL),0,2)
PYTEST := $(PY) -m pytest $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS))
# Lint and type check run beside the tests; each target's output is printed whole when it ends.
PARALLEL := $(MAKE) --no-print-directory -j 4 --output-sync=target

.PHONY: install dev dev-web web chromium test test-web check lint typecheck pytest pytest-quick fuzz migrate openapi bench bench-cold-start clean-local

install: $(STAMP)

$(STAMP): requirements-dev.txt layers/common/requirements.txt infra/package.json layers/design_engine/package-lock.json
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
	@# The design engine (UI/UX Pro Max, pinned): DesignEngineLayer's content, imported in-process.
	npm ci --prefix layers/design_engine --ignore-scripts --no-audit --no-fund --silent
	touch $(STAMP)

dev: install web
	$(PY) -m devstack

# The web app (frontend/): npm ci when the lockfile changed, vite build when a source changed.
WEB_SOURCES := $(shell find frontend/src frontend/public frontend/index.html frontend/vite.config.ts frontend/tsconfig.json -type f 2>/dev/null)
web: frontend/dist/index.html

frontend/node_modules/.installed: frontend/package-lock.json
	npm ci --prefix frontend --no-audit --no-fund --silent
	touch $@

frontend/dist/index.html: frontend/node_modules/.installed $(WEB_SOURCES)
	npm run --prefix frontend build --silent

# Vite's dev server with hot reload on :5173, proxying /api to a running `make dev`.
dev-web: frontend/node_modules/.installed
	npm run --prefix frontend dev

# The browser journeys (Debian's Chromium through Playwright; installed with apt when missing),
# in a pytest of their own beside the API tests: they serve their stack on a free port.
test-web: install web chromium
	MM_WEB_TESTS=1 $(PY) -m pytest tests/web $(PYTEST_ARGS)

chromium:
	@command -v chromium >/dev/null || { echo "Chromium is missing: installing it with apt-get install chromium"; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get install -y -q chromium >/dev/null \
	  || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }

# Everything CI runs: lint, types, every test (the fuzzer, the other slow ones and the browser
# journeys included).
test: install
	@$(PARALLEL) lint typecheck pytest test-web

# The quick loop while iterating: lint, types and the tests not marked slow.
check: install
	@$(PARALLEL) lint typecheck pytest-quick

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

pytest: install
	$(PYTEST) $(PYTEST_ARGS)

pytest-quick: install
	$(PYTEST) -m "not slow" $(PYTEST_ARGS)

# The API fuzzer alone (FUZZ_EXAMPLES requests per operation, FUZZ_SEED for other inputs).
fuzz: install
	$(PY) -m pytest tests/platform/test_fuzz.py $(PYTEST_ARGS)

migrate: install
	$(PY) -m mmctl migrate

# functions/system/system_fn/openapi.json and docs/routes.md (tests fail when either is stale).
openapi: install frontend/node_modules/.installed
	$(PY) -m mmctl openapi
	npm run --prefix frontend openapi --silent

bench: install bench-cold-start web chromium
	$(PY) bench/files_listing.py
	$(PY) bench/api_latency.py
	$(PY) bench/auth.py
	$(PY) bench/versions.py
	$(PY) bench/deploy.py
	$(PY) bench/billing.py
	$(PY) bench/admin.py
	$(PY) bench/generation.py
	$(PY) bench/design_system.py
	$(PY) bench/preview.py
	$(PY) bench/import.py
	$(PY) bench/spa.py

bench-cold-start: install
	$(PY) bench/cold_start.py

clean-local:
	rm -rf .local
