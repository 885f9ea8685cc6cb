# `make demo` sets up and runs the demo server; `make test` sets up and runs
# the tests. Both create .venv/ and node_modules/ on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: setup.cfg setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

demo: $(VENV)/.installed
	$(PY) -m engineio_sync --port 5000

test: setup
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis
