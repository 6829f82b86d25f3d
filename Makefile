# bucketlens: `make` lists the targets.
PYTHON ?= python3
VENV ?= .venv
PYTEST_ARGS ?=
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv test lint bench clean lock

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(STAMP) ## Create the virtualenv and install bucketlens with its test tools

test: $(STAMP) ## Run the whole test suite (sets up the venv first)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## Lint the Python code and the Dockerfile
	$(VENV)/bin/ruff check job lambda_submitter tests bench
	$(VENV)/bin/ruff format --check job lambda_submitter tests bench
	$(VENV)/bin/hadolint --failure-threshold warning Dockerfile

bench: $(STAMP) ## Run the benchmarks and print their figures
	$(PY) bench/exif_bench.py

lock: ## Re-pin the container's runtime dependencies (requirements.lock) from pyproject.toml
	rm -rf $(VENV)-lock && $(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install --quiet .
	{ echo "# Runtime dependencies pinned for the container image. Regenerate with: make lock"; \
	  $(VENV)-lock/bin/pip freeze --exclude bucketlens; } > requirements.lock
	rm -rf $(VENV)-lock

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
