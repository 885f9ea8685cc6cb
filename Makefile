# `make demo` sets up and runs the demo server; `make test` sets up and runs
# the tests. Both create .venv/ and node_modules/ on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# gunicorn 25.x for its eventlet worker (removed in gunicorn 26).
G25 ?= .venv-gunicorn25
PORT ?= 5000

.PHONY: setup demo test clean gunicorn25 flask-chat django-app standalone \
	gunicorn-gthread gunicorn-gevent gunicorn-eventlet

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: setup.cfg setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

$(G25)/.installed: setup.cfg setup.py
	$(PYTHON) -m venv $(G25)
	$(G25)/bin/python -m pip install -q --upgrade pip
	$(G25)/bin/python -m pip install -q -e '.[gunicorn-eventlet,examples,redis]'
	touch $@

gunicorn25: $(G25)/.installed

# The live demo page loads engine.io-client from node_modules.
demo: $(VENV)/.installed node_modules/.installed
	$(PY) -m engineio_sync --port $(PORT)

test: setup gunicorn25
	$(PY) -m pytest -q

# Static checks: ruff (ruff.toml says which rules), then mypy (setup.cfg's
# [mypy] sections say what and how).
.PHONY: lint
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check engineio_sync tests bench tools examples
	$(PY) -m mypy

# The examples (README.rst, "Examples" and "Deploying with gunicorn").
flask-chat: setup
	$(PY) examples/flask_chat/app.py --port $(PORT)

django-app: setup
	$(PY) examples/django_app/serve.py --port $(PORT)

standalone: setup
	$(PY) examples/standalone.py --port $(PORT)

gunicorn-gthread: setup
	$(VENV)/bin/gunicorn -c examples/gunicorn/gthread.conf.py \
		--pythonpath examples/flask_chat -b 127.0.0.1:$(PORT) app:app

gunicorn-gevent: setup
	$(VENV)/bin/gunicorn -c examples/gunicorn/gevent.conf.py \
		--pythonpath examples/flask_chat -b 127.0.0.1:$(PORT) app:app

gunicorn-eventlet: $(G25)/.installed node_modules/.installed
	$(G25)/bin/gunicorn -c examples/gunicorn/eventlet.conf.py \
		--pythonpath examples/flask_chat -b 127.0.0.1:$(PORT) app:app

clean:
	rm -rf $(VENV) $(G25) node_modules .pytest_cache .hypothesis .ruff_cache
