# Every target that needs PostgreSQL or Redis goes through
# `scripts/stack.py exec --`: it uses DATABASE_URL / REDIS_URL when they
# are set, else starts (or reuses) the embedded services under .data/.

SHELL := /bin/sh
PYTHON3 ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
STACK := $(PY) scripts/stack.py
EXEC := $(STACK) exec --

PORT ?= 8000
export PORT

.DEFAULT_GOAL := help
.PHONY: help install migrate web worker run test bench fmt lint stop

help:
	@echo "make run      install, start db/redis, migrate, web + worker"
	@echo "make install  create $(VENV) and install requirements-dev.txt"
	@echo "make migrate  apply migrations"
	@echo "make web      production web server on \$$PORT ($(PORT))"
	@echo "make worker   one RQ worker"
	@echo "make test     the test suite (ARGS=... for pytest)"
	@echo "make bench    the benchmark (ARGS=--quick for a smoke run)"
	@echo "make fmt      format (black, import order)"
	@echo "make lint     black --check and ruff"
	@echo "make stop     stop the embedded PostgreSQL and Redis"

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q \
		-r requirements-dev.txt
	touch $@

migrate: install
	$(EXEC) $(PY) app/manage.py migrate --noinput

web: install
	$(EXEC) $(PY) serve.py

worker: install
	$(EXEC) $(PY) app/manage.py rqworker default

run: install
	$(STACK) run

test: install
	$(EXEC) $(VENV)/bin/pytest $(ARGS)

bench: install $(BENCH_STAMP)
	$(EXEC) $(PY) bench/run.py $(ARGS)

$(BENCH_STAMP): requirements-bench.txt $(STAMP)
	$(PY) -m pip install --disable-pip-version-check -q \
		-r requirements-bench.txt
	touch $@

fmt: install
	$(VENV)/bin/black .
	$(VENV)/bin/ruff check --select I --fix .

lint: install
	$(VENV)/bin/black --check .
	$(VENV)/bin/ruff check .

stop: install
	$(STACK) stop
