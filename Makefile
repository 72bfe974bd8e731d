# rlinside: `make book` and `make test` set themselves up (a .venv in the checkout).
# torch is installed first, pinned to the CPU build, so pip never pulls CUDA wheels.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH  := torch==2.13.0
STAMP  := $(VENV)/.rlinside-installed
PROFILE ?= book
JOBS   ?= 1

.PHONY: env book book-smoke test test-slow bench clean distclean

env: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet -e ".[test]"
	@touch $(STAMP)

book: env
	$(VENV)/bin/rlinside book --profile $(PROFILE) --jobs $(JOBS)

book-smoke: env
	$(VENV)/bin/rlinside book --profile smoke --jobs $(JOBS)

test: env
	$(PY) -m pytest -q

test-slow: env
	$(PY) -m pytest -q -m slow

bench: env
	$(PIP) install --quiet -e ".[bench]"
	@set -e; for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf _build book/generated .pytest_cache
	find . -name __pycache__ -type d -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .cache
