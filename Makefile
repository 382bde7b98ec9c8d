# Two commands matter: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 5000
DEB_PACKAGES := espeak-ng sox libsox-fmt-all redis-server chromium
export PYTHONUNBUFFERED := 1

.PHONY: run test bench worker lint deps deps-test system-packages clean

system-packages: ## Debian packages: espeak-ng + sox (speech), redis-server, chromium (browser tests)
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/.deps: requirements.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.deps-test: requirements.txt requirements-test.txt $(VENV)/.deps
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-test.txt
	@touch $@

deps: system-packages $(VENV)/.deps
deps-test: system-packages $(VENV)/.deps-test

run: deps ## start the server on http://127.0.0.1:$(PORT) with demo data
	$(VENV)/bin/flask --app app init-db
	$(VENV)/bin/flask --app app seed-demo
	PORT=$(PORT) $(PY) app.py

test: deps-test ## run every test
	$(PY) -m pytest -q -p no:cacheprovider tests

bench: deps-test ## run the benchmarks, print a table, write bench/results/*.json
	$(PY) -m bench

worker: deps ## an rq worker for the callback queue on REDIS_URL
	$(PY) -m services.worker

lint: deps-test
	$(VENV)/bin/ruff check .
