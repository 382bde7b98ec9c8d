# Two commands matter: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 5000
DEB_PACKAGES := espeak-ng sox libsox-fmt-all redis-server chromium nginx
BENCH_PACKAGES := wrk
export PYTHONUNBUFFERED := 1

.PHONY: run test test-sqlite test-postgres bench worker screenshots lint deps deps-test system-packages bench-packages clean translations translations-update

# Debian packages that are missing, installed with apt-get (we are root on these machines).
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

system-packages: ## Debian packages: espeak-ng + sox (speech), redis-server, chromium (browser tests), nginx (the proxy test)
	$(call apt_install,$(DEB_PACKAGES))

bench-packages: ## wrk, the load generator of the webhook benchmark
	$(call apt_install,$(BENCH_PACKAGES))

$(VENV)/.deps: requirements.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.deps-test: requirements.txt requirements-test.txt $(VENV)/.deps
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-test.txt
	@touch $@

deps: system-packages $(VENV)/.deps translations
deps-test: system-packages $(VENV)/.deps-test translations

# The pages' message catalogs (web/translations/<lang>/LC_MESSAGES/messages.po), compiled for the server.
TRANSLATIONS := web/translations
PAGE_LANGUAGES := en ru fa ko
CATALOGS := $(foreach lang,$(PAGE_LANGUAGES),$(TRANSLATIONS)/$(lang)/LC_MESSAGES/messages.mo)

translations: $(CATALOGS) ## compile the pages' catalogs (.po → .mo)

$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po | $(VENV)/.deps
	$(VENV)/bin/pybabel -q compile -l $* -i $< -o $@

translations-update: $(VENV)/.deps ## extract the pages' messages from templates, Python and scripts; merge them into every catalog
	$(VENV)/bin/pybabel -q extract -F web/babel.cfg --sort-by-file --no-wrap --project "Northwind Contact Center" \
		-o $(TRANSLATIONS)/messages.pot .
	for lang in $(PAGE_LANGUAGES); do \
		test -f $(TRANSLATIONS)/$$lang/LC_MESSAGES/messages.po || \
			$(VENV)/bin/pybabel -q init --no-wrap -l $$lang -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS); \
	done
	$(VENV)/bin/pybabel -q update --no-wrap --no-fuzzy-matching --ignore-obsolete -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS)

run: deps ## start the server on http://127.0.0.1:$(PORT) with demo data (open around the clock, the demo's holidays)
	$(VENV)/bin/flask --app app init-db
	$(VENV)/bin/flask --app app seed-demo
	PORT=$(PORT) OPENING_HOURS="$${OPENING_HOURS:-mon-sun 00:00-24:00}" \
		HOLIDAYS_FILE="$${HOLIDAYS_FILE-store/demo/holidays.yaml}" $(PY) app.py

test: deps-test ## run every test: on SQLite, then on PostgreSQL (DATABASE_URL, else 127.0.0.1:5432, else a server of its own)
	$(PY) -m pytest -q -p no:cacheprovider tests
	$(PY) -m harness.postgres $(PY) -m pytest -q -p no:cacheprovider tests

test-sqlite: deps-test ## the suite on SQLite only
	$(PY) -m pytest -q -p no:cacheprovider tests

test-postgres: deps-test ## the suite on PostgreSQL only
	$(PY) -m harness.postgres $(PY) -m pytest -q -p no:cacheprovider tests

bench: deps-test bench-packages ## run the benchmarks, print a table, write bench/results/*.json
	$(PY) -m bench

worker: deps ## an rq worker for the job queues on REDIS_URL (calls first, then bulk)
	$(PY) -m services.worker

screenshots: deps-test ## the pages' screenshots in docs/ (the browser tests, saving what they see there)
	SCREENSHOT_DIR=docs $(PY) -m pytest -q -p no:cacheprovider tests/test_web_agent.py tests/test_web_supervisor.py \
		tests/test_web_i18n.py tests/test_reports.py tests/test_call_monitoring.py tests/test_call_transfers.py

lint: deps-test
	$(VENV)/bin/ruff check .
