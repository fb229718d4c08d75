# hma-mascon: the two set-up commands are `make book` and `make test`.
# Both create the pinned environment (.venv, from uv.lock) on first use; uv itself is
# bootstrapped from PyPI into .tools/ when it is not already on PATH.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.8
UV ?= $(shell command -v uv || echo .tools/bin/uv)
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.hma-mascon-installed
PYTEST_ARGS ?=
BOOK_ARGS ?=

.PHONY: env test book clean clean-book help

help:
	@echo "make book   build the HTML book (synthetic default data, or HMA_MASCON_DATA if set)"
	@echo "make test   run the whole test suite (real-data tests run when HMA_MASCON_DATA is set)"

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra test --python $(PYTHON)
	@touch $(STAMP)

env: $(STAMP)

test: $(STAMP)
	$(VPY) -m pytest $(PYTEST_ARGS)

book: $(STAMP)
	$(VENV)/bin/hma-mascon book $(BOOK_ARGS)

clean-book:
	rm -rf _build book/_executed

clean: clean-book
	rm -rf $(VENV) .tools .pytest_cache
