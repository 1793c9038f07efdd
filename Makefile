# Outage post-mortem toolkit. `make` alone lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced
# Never let uv fetch an interpreter: the machine's Python is the one we use.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PYTHON) -m uv
endif

.PHONY: help setup report test test-fast test-slow lint format lab bench validate validate-storms validate-full backtest-nowcast clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv/ from uv.lock (installs uv with pip if missing)

# Bytecode is compiled once here: a machine that never writes .pyc (PYTHONDONTWRITEBYTECODE)
# would otherwise recompile every module in every process (~5 s of a 20 s report).
$(STAMP): pyproject.toml uv.lock Makefile
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@echo "uv sync: creating .venv/ from uv.lock (the first time downloads ~170 packages and compiles their bytecode)"
	$(UV) sync --frozen --compile-bytecode --quiet --python $(PYTHON)
	$(BIN)/python -m analysis.kernel install >/dev/null
	@touch $@

# render-all's default per-incident time limit applies (30 min; POSTMORTEM_TIMEOUT, docs/security.md)
report: setup ## Render every incident under data/raw/ (and the simulated scenario) into reports/
	@$(BIN)/python -m compileall -q src >/dev/null
	$(BIN)/postmortem simulate --scenario proximus-2018 --seed 20180108 --out data/raw/simulated-proximus-2018 --if-missing
	$(BIN)/postmortem render-all data/raw --out reports

test: setup ## Run the test suite (SLOW=1 adds the long statistical runs, as CI does)
	$(BIN)/python -m pytest $(if $(SLOW),-m "not validation",-m "not slow and not validation")

test-fast: setup ## Run the test suite without slow and browser tests
	$(BIN)/python -m pytest -m "not slow and not browser and not validation"

lint: setup ## ruff check, format check and the type check (mypy; strict on the base modules)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy

format: setup ## Format the code with ruff
	$(BIN)/ruff format src tests benchmarks scripts
	$(BIN)/ruff check --fix src tests benchmarks scripts

# Lab serves the repository root (data/, reports/ and notebooks/ all browsable) and opens
# the explore notebook; root (a container) needs --allow-root. LAB_ARGS passes options,
# e.g. make lab LAB_ARGS="--no-browser --port 8899 --ip 0.0.0.0".
LAB_ARGS ?=
lab: setup ## Start JupyterLab at the repository root with the project's kernel (LAB_ARGS="..." for options)
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS) notebooks/explore.ipynb

bench: setup ## Run the benchmarks (writes nothing; prints ratios)
	$(BIN)/python benchmarks/run.py

validate: setup ## Coverage of the intervals on independently generated incidents, through `postmortem fit` (~30–45 min on 2 cores)
	$(BIN)/python benchmarks/validation.py --reps 20 --n-boot 100 --jobs 2

validate-storms: setup ## Simulated storms (customers-out series) through `postmortem fit`: error, coverage, reading flags
	$(BIN)/python benchmarks/storm_validation.py --reps 20 --n-boot 100 --jobs 2

backtest-nowcast: setup ## Replay real series, storms and crowd incidents every 15 min; score the ETA forecasts (docs/nowcast.md)
	$(BIN)/python benchmarks/nowcast.py --seeds 2 --n-boot 100

validate-full: setup ## The coverage targets as tests: 100 replications per scenario (several hours on 2 cores)
	$(BIN)/python -m pytest -m validation

clean: ## Remove generated files (reports, processed data, caches); keeps .venv
	rm -rf reports/* data/processed/* .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	@touch reports/.gitkeep data/processed/.gitkeep
