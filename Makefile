# Two commands matter on a fresh clone: `make demo` and `make test`. Both build what they need first.
#
#   .venv      the project's environment (runtime, emulator, test and lint tools), pinned in requirements/dev.txt
#   .venv-sdk  demisto-sdk alone, pinned in requirements/sdk.txt: it pins old pydantic/mypy, so it never shares ours

PYTHON ?= python3
VENV := .venv
SDK_VENV := .venv-sdk
PY := $(VENV)/bin/python
SDK := $(SDK_VENV)/bin/demisto-sdk
PYTEST := $(PY) -m pytest
STAGE := $(PY) -m suite.stage
# Independent tests run on every core (pytest-xdist; each worker has its own emulators and state home). Tests that
# use a module-scoped fixture stay together on one worker (--dist loadgroup, see Tests/suite/plugin.py).
PYTEST_WORKERS ?= auto
XDIST := -n $(PYTEST_WORKERS) --dist loadgroup

# $(call pytest_stage,NAME,MARKERS[,PATHS]): the stage's independent tests in parallel, then its `serial` ones alone (they
# need the whole machine: timings, a rate-limit window, 20 concurrent processes). Each session records its counts.
define pytest_stage
	@$(STAGE) clear $(1)
	SUITE_STAGE=$(1) $(PYTEST) -m "($(2)) and not serial" $(XDIST) -q $(3)
	SUITE_STAGE=$(1) $(PYTEST) -m "($(2)) and serial" -q $(3)
endef

# demisto-sdk must treat this checkout as the content repo, even without a remote named "content".
export DEMISTO_SDK_CONTENT_PATH := $(CURDIR)
export DEMISTO_SDK_IGNORE_CONTENT_WARNING := 1
export DEMISTO_SDK_SKIP_VERSION_CHECK := 1
export DEMISTO_SDK_OFFLINE_ENV := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help demo test lint validate unify zip unit e2e reliability bench docs playbook-docs clean env sdk-env

help:
	@echo "make demo   - run the pack's commands against the embedded Microsoft emulator"
	@echo "make test   - everything CI checks: lint, validate, unit, end-to-end and reliability tests"
	@echo "make reliability - faults, concurrency, hostile input and secrets (build/reliability.md)"
	@echo "make bench  - benchmarks against the emulator (build/bench.md)"
	@echo "make unify  - unified integration YAMLs in build/unified/"
	@echo "make zip    - uploadable pack zips in build/packs/"
	@echo "make docs   - regenerate integration READMEs, examples run against the emulator"
	@echo "make playbook-docs - regenerate the playbook READMEs from their YAML"

env: $(VENV)/.installed
sdk-env: $(SDK_VENV)/.installed

$(VENV)/.installed: requirements/dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(SDK_VENV)/.installed: requirements/sdk.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	test -x $(SDK_VENV)/bin/python || $(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SDK_VENV)/bin/python -m pip install --quiet -r requirements/sdk.txt
	touch $@

lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy Tests/xsoar_local Tests/microsoft_emulator Tests/bench Tests/suite Tests/contract Packs/ApiModules/Scripts/MicrosoftApiModule/MicrosoftApiModule.py

validate: sdk-env
	$(SDK) validate -a --config-path validation_config.toml --ignore-support-level

unify: env sdk-env
	$(VENV)/bin/xsoar-local build --all

bench: env sdk-env
	$(PY) -m bench.run

docs: env sdk-env
	$(VENV)/bin/xsoar-local docs --all

zip: unify
	$(VENV)/bin/xsoar-local build --all --zip

unit: env sdk-env
	$(call pytest_stage,unit,not e2e and not reliability and not counts)

e2e: env sdk-env
	$(call pytest_stage,e2e,e2e and not reliability)

reliability: env sdk-env
	$(call pytest_stage,reliability,reliability,Tests/reliability)

# Every stage timed (wall time); at the end the table of times and counts, then the check against the floor. lint and
# validate are independent single-process tools, so they share the two cores.
test: env sdk-env
	@rm -rf build/test-counts
	@$(STAGE) time lint+validate $(MAKE) --no-print-directory -j2 --output-sync=target lint validate
	@$(STAGE) time unit $(MAKE) --no-print-directory unit
	@$(STAGE) time e2e $(MAKE) --no-print-directory e2e
	@$(STAGE) time reliability $(MAKE) --no-print-directory reliability
	@$(STAGE) report
	$(PYTEST) -m counts -q Tests/suite

demo: env sdk-env
	$(PY) -m xsoar_local.demo

clean:
	rm -rf build .xsoar-local .pytest_cache .mypy_cache .ruff_cache

# Playbook READMEs, generated from each playbook's YAML, and the playbook images they link (doc_files/, drawn by
# `xsoar-local playbook image`). generate-docs also stages the file it writes in git; the README is staged again after
# the trailing blank lines are trimmed, so the index holds the final text.
playbook-docs: env sdk-env
	$(VENV)/bin/xsoar-local playbook image >/dev/null
	@for f in Packs/*/Playbooks/*.yml; do \
		$(SDK) generate-docs -i "$$f" >/dev/null || exit 1; \
		readme="$${f%.yml}_README.md"; \
		sed -i -e :a -e '/^\n*$$/{$$d;N;ba' -e '}' "$$readme"; \
		git add -- "$$readme" 2>/dev/null || true; \
		echo "$$readme"; \
	done
