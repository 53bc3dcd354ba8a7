# The course's commands. Needs only python3 and make: Poetry is bootstrapped into .tools/ if missing.
#   make lab                 open the course in JupyterLab (replay mode: no key needed)
#   make test                run every test: helpers, recordings, and every notebook under nbval
#   make record NB=03_parameters [BACKEND=local]   re-run notebooks in record mode, in place

PYTHON ?= python3
POETRY_VERSION ?= 2.5.1
TOOLS := .tools
POETRY ?= $(TOOLS)/poetry/bin/poetry
VENV := .venv
RUN := $(VENV)/bin
export POETRY_VIRTUALENVS_IN_PROJECT := true
export POETRY_VIRTUALENVS_PREFER_ACTIVE_PYTHON := true

BACKEND ?= replay
NB ?=
LAB_PORT ?= 8888

.PHONY: help install lab test test-fast lint record bench clean

help:
	@sed -n '2,5p' Makefile | sed 's/^# //'

$(TOOLS)/poetry/bin/poetry:
	@echo "Installing Poetry $(POETRY_VERSION) into $(TOOLS)/poetry (once)..."
	$(PYTHON) -m venv $(TOOLS)/poetry
	$(TOOLS)/poetry/bin/python -m pip install --quiet --disable-pip-version-check "poetry==$(POETRY_VERSION)"

$(VENV)/.installed: pyproject.toml poetry.lock | $(POETRY)
	$(POETRY) install --with dev --no-interaction
	@touch $@

install: $(VENV)/.installed

lab: install
	COURSE_BACKEND=$(BACKEND) $(RUN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) \
		--ServerApp.root_dir=notebooks --no-browser $(if $(filter 0,$(shell id -u)),--allow-root)

test: install
	$(RUN)/python -m pytest

test-fast: install
	$(RUN)/python -m pytest tests

lint: install
	$(RUN)/ruff check helpers tests scripts notebooks

record: install
	$(RUN)/python scripts/record.py --backend $(BACKEND) $(NB)

bench: install
	$(RUN)/python scripts/bench.py --update-readme

clean:
	rm -rf $(VENV) $(TOOLS) .cache
