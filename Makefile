# Two commands do everything: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON311 ?= $(shell command -v python3.11 || echo python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup run test bench lint check-kb clean

setup: $(STAMP)

# Re-runs only when pyproject.toml changes; torch first, from the local CPU build.
$(STAMP): pyproject.toml
	@test -x $(PY) || { echo "==> creating $(VENV) with $(PYTHON311)"; $(PYTHON311) -m venv $(VENV); }
	@echo "==> installing torch (CPU build) and the project into $(VENV)"
	@$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

run: setup
	@$(PY) -m ops.run

test: setup
	@$(PY) -m pytest

bench: setup
	@$(PY) -m bench

lint: setup
	@$(VENV)/bin/ruff check .

check-kb: setup
	@$(PY) -m retrieval check --kb kb_content

clean:
	rm -rf var/index var/run
