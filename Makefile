# The two commands: `make book` (build the rendered book) and `make test` (the test suite).
# Both set themselves up on a fresh machine (they depend on `venv`).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON3 ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
JB      := $(VENV)/bin/jupyter-book
STAMP   := $(VENV)/.lsmooth-installed
BUILD_LOG := _build/book.log

# Offline data: use the shared copies next to the checkout unless LSMOOTH_DATA is already set.
ifeq ($(origin LSMOOTH_DATA),undefined)
ifneq ($(wildcard ../shared/data),)
export LSMOOTH_DATA := $(abspath ../shared/data)
endif
endif
export LSMOOTH_CACHE ?= $(CURDIR)/.cache
# Two cores: one thread pool per process is enough (kernels and pytest run one at a time).
export OMP_NUM_THREADS ?= 2
export MKL_NUM_THREADS ?= 2

# The single test command (README "The test command"; .ci/run runs it through `make test`).
TEST_CMD := $(PY) -m pytest tests book --nbval-lax --nbval-current-env --nbval-cell-timeout=900 -p no:cacheprovider

.PHONY: help venv book student-book test zoo-list zoo-verify clean

help:
	@echo "make venv        create .venv and install requirements.txt + the library (pip install -e .)"
	@echo "make book        build the book into _build/html from the committed zoo (no training)"
	@echo "make student-book  the same book without the exercises' solutions, into _build/student/_build/html"
	@echo "make test        run the test suite: $(TEST_CMD)"
	@echo "make zoo-list    list the zoo entries and whether they are trained"
	@echo "make zoo-verify  recompute the sha256 of every trained zoo entry"
	@echo "make clean       remove _build and caches of Python/pytest"

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@if [ ! -x "$(PY)" ]; then echo "creating $(VENV)"; $(PYTHON3) -m venv $(VENV); fi
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install -e .
	@touch $(STAMP)

book: venv
	@mkdir -p _build
	@echo "LSMOOTH_DATA=$${LSMOOTH_DATA:-<unset>} LSMOOTH_CACHE=$$LSMOOTH_CACHE OMP_NUM_THREADS=$$OMP_NUM_THREADS"
	$(JB) build . -W -n --keep-going 2>&1 | tee $(BUILD_LOG)
	@if grep -qE "Executing notebook failed|Execution Failed" $(BUILD_LOG); then \
		echo "error: a notebook failed to execute; reports:"; \
		find _build/html/reports -name '*.log' -exec sh -c 'echo "== $$1"; cat "$$1"' _ {} \; 2>/dev/null || true; \
		exit 1; \
	fi
	@echo "book built: _build/html/index.html (log: $(BUILD_LOG))"

# The student edition: the same sources with every <details class="solution"> block removed (tests/nbtools.py),
# executed into the main build's cache, so after `make book` only the removal is new work.
student-book: venv
	@mkdir -p _build
	$(PY) tests/nbtools.py student-source _build/student-src
	$(JB) build _build/student-src -W -n --keep-going --path-output _build/student 2>&1 | tee _build/student.log
	@if grep -qE "Executing notebook failed|Execution Failed" _build/student.log; then exit 1; fi
	@echo "student edition built: _build/student/_build/html/index.html"

test: venv
	@echo "LSMOOTH_DATA=$${LSMOOTH_DATA:-<unset>} LSMOOTH_CACHE=$$LSMOOTH_CACHE OMP_NUM_THREADS=$$OMP_NUM_THREADS"
	@rc=0; $(TEST_CMD) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests (exit code 5)"; fi; \
	exit $$rc

zoo-list: venv
	$(PY) -m lsmooth_lib zoo list

zoo-verify: venv
	$(PY) -m lsmooth_lib zoo verify

clean:
	rm -rf _build .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
