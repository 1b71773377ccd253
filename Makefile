# Quick start: `make demo` runs the main job, `make test` runs the test suite.
# Both create .venv with Python 3.11 (override with PY=...) and install what they need.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	touch $@

.PHONY: install demo test bench
install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/jisf demo

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

bench: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[test,bench]"
	$(BIN)/python bench/tracker.py --quick
