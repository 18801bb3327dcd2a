# Text Recognizer Labs. `make help` lists the targets.
# Every target installs what it needs: `make test` and `make lab` work on a fresh clone.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= $(shell command -v python3.11 || command -v python3)
# Inside the course's conda env (`make conda-update && conda activate text-recognizer`) the
# targets use that environment; otherwise they create and use .venv.
ifeq ($(CONDA_DEFAULT_ENV),text-recognizer)
VENV := $(CONDA_PREFIX)
else
VENV := .venv
endif
BIN := $(VENV)/bin
STAMP_PY := $(VENV)/.stamp-python
STAMP_SYS := $(VENV)/.stamp-system
REQS := requirements/prod.txt requirements/dev.txt
# This machine's pip config points at local wheel folders and warns about each one; hide that.
QUIET_PIP := 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)

# Offline-by-default settings shared by every target that runs code.
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export PYTHONDONTWRITEBYTECODE := 1
export PRE_COMMIT_HOME := $(CURDIR)/$(VENV)/pre-commit-cache

LAB ?= 01

##@ Setup
.PHONY: help
help: ## List every target with one line each
	@awk 'BEGIN {FS = ":.*##"} /^##@/ {printf "\n%s\n", substr($$0, 5)} \
	  /^[a-zA-Z0-9_-]+:.*##/ {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: install
install: $(STAMP_PY) $(STAMP_SYS) fonts ## Create .venv, pip-sync the pinned requirements, install the package (no-op when up to date)

$(STAMP_PY): $(REQS) pyproject.toml
	@echo ">>> creating $(VENV) and syncing pinned requirements"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip<26" \
	  "$$(grep -E '^pip-tools==' requirements/dev.txt)" \
	  "$$(grep -E '^setuptools==' requirements/dev.txt)" $(QUIET_PIP)
	$(BIN)/pip-sync -q $(REQS) $(QUIET_PIP)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e . $(QUIET_PIP)
	@touch $@

$(STAMP_SYS): scripts/install_system_deps.sh
	@bash scripts/install_system_deps.sh
	@mkdir -p $(VENV) && touch $@

.PHONY: fonts
fonts: ## Install the handwriting fonts from npm (pinned + checksummed in fonts/; skipped without npm)
	@bash scripts/install_fonts.sh

.PHONY: font-manifest
font-manifest: install ## Rewrite fonts/MANIFEST.md: every npm font family, its licence, and whether it is used
	$(BIN)/python scripts/font_manifest.py

.PHONY: pip-tools
pip-tools: ## Recompile requirements/*.in into pinned *.txt and sync .venv to them
	@test -x $(BIN)/pip-compile || { $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install -q pip-tools; }
	$(BIN)/pip-compile -q --resolver=backtracking --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links --no-header requirements/prod.in -o requirements/prod.txt
	$(BIN)/pip-compile -q --resolver=backtracking --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links --no-header requirements/dev.in -o requirements/dev.txt
	$(BIN)/pip-compile -q --resolver=backtracking --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links --no-header requirements/monitor.in -o requirements/monitor.txt
	@rm -f $(STAMP_PY)
	@$(MAKE) install

.PHONY: conda-update
conda-update: ## Create or update the conda environment from environment.yml (conda users)
	conda env update --prune -f environment.yml
	@echo ">>> now run: conda activate text-recognizer && make pip-tools"

##@ Develop
.PHONY: lab
lab: install ## Open the labs in JupyterLab
	$(BIN)/jupyter lab --notebook-dir=. --ServerApp.ip=127.0.0.1

.PHONY: lint
lint: install ## Run every pre-commit hook on all files (offline-capable local hooks)
	$(BIN)/pre-commit run --all-files --show-diff-on-failure

.PHONY: format
format: install ## Auto-format code (ruff) and strip notebook outputs (nbstripout)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix . && $(BIN)/nbstripout lab*/*.ipynb

##@ Test
.PHONY: test
test: install ## Everything CI runs: lint, unit + doctests + coverage, the prod wheel, notebooks, training/integration
	@bash scripts/run_tests.sh all

.PHONY: test-unit
test-unit: install ## Unit tests and doctests only (fast)
	@bash scripts/run_tests.sh unit

.PHONY: test-prod
test-prod: install ## Build the wheel, install it with prod.txt + monitor.txt only, run predict/backend/monitor
	@bash scripts/run_tests.sh prod

.PHONY: test-notebooks
test-notebooks: install ## Execute every lab notebook with nbmake
	@bash scripts/run_tests.sh notebooks

.PHONY: test-lab
test-lab: install ## Execute one lab's notebooks: make test-lab LAB=03
	$(BIN)/pytest --nbmake --nbmake-timeout=600 -p no:cacheprovider lab$(LAB)/*.ipynb

##@ Run
.PHONY: train
train: install ## Train a model: make train ARGS="--data_class Digits --model_class MLP --max_epochs 5"
	$(BIN)/text-recognizer train $(ARGS)

.PHONY: release-model
release-model: install ## Train, evaluate, stage the release recognizer (~60 min on 2 CPU cores; DATA=iam fine-tunes on real IAM lines)
	bash scripts/release_model.sh

.PHONY: app
app: install ## Start the web app on http://127.0.0.1:7860 (ARGS="--port 8080 --model_url http://127.0.0.1:9000/")
	$(BIN)/python -m text_recognizer.serving.app $(ARGS)

.PHONY: bench
bench: install ## Run the benchmarks and write bench/results/BENCHMARKS.md (BENCH=name for one)
	$(BIN)/python scripts/bench.py $(BENCH)

##@ Serve (Lab 07)
C ?= 4
T ?= 30
.PHONY: serve-backend
serve-backend: install ## Serve the model: the Lambda handler behind a local function-URL server (http://127.0.0.1:9000)
	$(BIN)/python -m text_recognizer.serving.local_server $(ARGS)

.PHONY: loadtest
loadtest: install ## Load-test the local backend: C clients for T seconds (default 4 x 30); writes bench/results/loadtest.md
	$(BIN)/python scripts/loadtest.py --concurrency $(C) --duration $(T) $(ARGS)

##@ Monitor (Lab 08)
.PHONY: monitor-report
monitor-report: install ## Simulate a day of traffic, check drift, write logs/monitoring/report/index.html
	$(BIN)/text-recognizer monitor simulate --store logs/monitoring/store.db
	$(BIN)/text-recognizer monitor report --store logs/monitoring/store.db --out logs/monitoring/report

##@ Annotation (Lab 06)
.PHONY: label-studio label-studio-stop label-studio-install
label-studio: ## Install Label Studio into its own .venv-label-studio (once) and start it on 127.0.0.1:8080
	bash scripts/label_studio.sh start

label-studio-stop: ## Stop Label Studio (projects stay in logs/label-studio/)
	bash scripts/label_studio.sh stop

label-studio-install: ## Install Label Studio into its own venv (no-op when installed)
	bash scripts/label_studio.sh install

##@ Clean
.PHONY: clean
clean: ## Remove caches, logs and generated data (keeps .venv)
	rm -rf logs .pytest_cache .ruff_cache .coverage .coverage.xml bench/results
	find . -name __pycache__ -prune -not -path "./.venv/*" -exec rm -rf {} +

.PHONY: clean-all
clean-all: clean ## Also remove .venv and downloaded/generated data
	rm -rf .venv data
