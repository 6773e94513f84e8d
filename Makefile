# Two commands do everything: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON311 ?= $(shell command -v python3.11 || echo python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done
# Rasa 3.6 needs Python < 3.11: pyenv's 3.10 is found automatically, PYTHON310=... overrides.
PYTHON310 ?= $(shell for p in $$HOME/.pyenv/versions/3.10*/bin/python3.10 $$(command -v python3.10); do "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { echo "$$p"; break; }; done)
RASA_VENV := .venv-rasa
RASA_STAMP := $(RASA_VENV)/.setup-done
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup run test bench bench-load lint check-kb train clean browser mailserver

setup: $(STAMP) $(RASA_STAMP)

# Re-runs only when pyproject.toml changes; torch first, from the local CPU build.
$(STAMP): pyproject.toml
	@test -x $(PY) || { echo "==> creating $(VENV) with $(PYTHON311)"; $(PYTHON311) -m venv $(VENV); }
	@echo "==> installing torch (CPU build) and the project into $(VENV)"
	@$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

# The Rasa server's own venv, from the pinned set in bot/requirements.txt.
$(RASA_STAMP): bot/requirements.txt
	@test -n "$(PYTHON310)" || { echo "Python 3.10 not found: install it (pyenv install 3.10) or run make PYTHON310=/path/to/python3.10"; exit 1; }
	@test -x $(RASA_VENV)/bin/python || { echo "==> creating $(RASA_VENV) with $(PYTHON310)"; $(PYTHON310) -m venv $(RASA_VENV); }
	@echo "==> installing rasa 3.6 into $(RASA_VENV) (a few minutes the first time)"
	@$(RASA_VENV)/bin/pip install -q --disable-pip-version-check -r bot/requirements.txt
	@touch $@

# Trains the bot only when bot/ changed (fingerprint in bot/models/).
train: setup
	@$(PY) -m ops.train

# `make run WORKERS=2 RASA=2`: two gateway workers on one port, two Rasa servers, one Redis.
WORKERS ?= 1
RASA ?= 1
run: setup
	@WORKERS=$(WORKERS) RASA=$(RASA) $(PY) -m ops.run

# The browser tests drive Debian's Chromium (never a downloaded browser build).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || { echo "==> installing Debian's chromium for the browser tests"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# The e-mail channel's tests read a real IMAP server: Debian's Dovecot, started by the fixtures
# as a local process on a loopback port (tests/dovecot.py), never as a system service.
mailserver:
	@test -x /usr/sbin/dovecot || { echo "==> installing Debian's dovecot-imapd for the e-mail tests"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq dovecot-imapd >/dev/null; \
		$(SUDO) systemctl disable --now dovecot >/dev/null 2>&1 || true; }

test: setup browser mailserver
	@$(PY) -m pytest

bench: setup browser mailserver
	@$(PY) -m bench

# 2 gateways + 2 Rasa + Redis, 300 WebSocket shoppers for 3 minutes (~6 min in all; not in CI)
bench-load: setup
	@$(PY) -m bench.load

lint: setup
	@$(VENV)/bin/ruff check .

check-kb: setup
	@$(PY) -m retrieval check --kb kb_content

clean:
	rm -rf var/index var/run
