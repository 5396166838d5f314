# Two commands for a new user: `make demo` and `make test`. Both (re)create .venv from the pinned
# lock file first; the venv is refreshed whenever pyproject.toml or requirements.lock changes, and the
# package reinstalled (its compiled shift-chart scanner built again) whenever that scanner's source does.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test venv dev clean-demo

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock nhl_assets/parse/_shiftscan.c
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# The project's bytecode, written before every command: where PYTHONDONTWRITEBYTECODE is set (as on these
# CI machines) Python never caches it, so every process, parse worker and test compiled the project's
# modules again (0.1 s of each command line's start). compileall writes it explicitly, only for modules
# changed since; a stale file is never used (Python checks the source's time and size).
BYTECODE = $(BIN)/python -m compileall -q nhl_assets >/dev/null

demo: $(STAMP)
	@$(BYTECODE)
	$(BIN)/nhl-assets demo $(DEMO_ARGS)

test: $(STAMP)
	@$(BYTECODE)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The Dagster UI and daemon on http://127.0.0.1:$(DEV_PORT), loopback only, on the instance of
# nhl_assets/ops/instance.py (its dagster.yaml is written first when missing): `dg dev` loads the `[tool.dg]`
# project of pyproject.toml (module nhl_assets.definitions) with this venv's Python, activated so dg sees
# the project's own .venv (no uv, no network).
DEV_PORT ?= 3000
dev: $(STAMP)
	@$(BYTECODE)
	DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/.dagster_home} $(BIN)/python -m nhl_assets.ops.instance
	DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/.dagster_home} VIRTUAL_ENV=$(abspath $(VENV)) \
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dg dev --host 127.0.0.1 --port $(DEV_PORT)
