# Two commands matter (see README.md):  `make parity` and `make test`.
# Every target depends on `setup`, which is a no-op once .venv is built.

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
# The CPU build of torch; on a machine with a GPU, `make setup TORCH=torch` takes PyPI's default.
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed

.PHONY: setup test parity clean help

help:
	@echo "make setup    create .venv ($(PYTHON)) and install the project"
	@echo "make parity   torch vs NumPy reference vs finite differences (parity_tests/)"
	@echo "make test     the whole test suite (tests/ and parity_tests/)"
	@echo "make clean    remove .venv"

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "error: $(PYTHON) not found. Install Python 3.11 (or run: make setup PYTHON=/path/to/python3.11)"; \
	  exit 1; }
	@echo "==> creating $(VENV) with $(PYTHON) and installing the project (about a minute)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $@

test: setup
	$(PY) -m pytest

parity: setup
	$(PY) -m pytest parity_tests

clean:
	rm -rf $(VENV)
