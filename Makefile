# numdl: two commands on a fresh machine.
#   make tutorial   create .venv, install numdl, open the tutorial
#   make test       create .venv with the test and torch extras, get chromium, run every test
#                   (the kernel tests once more on each other kernel path this CPU has)
# Re-running a target is fast: installs are redone only when pyproject.toml, setup.py or the
# compiled kernels' sources change.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=
PYTEST_ARGS ?=

STAMP_BASE := $(VENV)/.stamp-base
STAMP_TEST := $(VENV)/.stamp-test

.PHONY: tutorial test test-fast test-cpus screenshots bench lint chromium clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

KERNEL_SOURCES := setup.py src/numdl/_kernels.c src/numdl/_kernels_impl.h src/numdl/_exp_table.h

$(STAMP_BASE): pyproject.toml $(KERNEL_SOURCES) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --editable ".[tutorial]"
	@touch $@

# torch==2.13.0 is the CPU wheel found locally; any other version pulls GBs of CUDA.  The test
# extra brings JAX (CPU wheels) and array-api-strict for tests/test_backends*.py.
$(STAMP_TEST): pyproject.toml $(KERNEL_SOURCES) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --editable ".[tutorial,test,torch,jax]"
	@touch $@ $(STAMP_BASE)

tutorial: $(STAMP_BASE)
	$(BIN)/numdl tutorial $(ARGS)

# Browser tests drive Debian's chromium (never a browser downloaded by Playwright).
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "The browser tests need /usr/bin/chromium. Install it with:"; \
		echo "    sudo apt-get update && sudo apt-get install -y chromium"; \
		exit 1; \
	fi

# Every test on the best kernel the CPU runs, and the kernel tests again on each other build of
# numdl._kernels the CPU runs and on the NumPy kernel: the browser tests in one lane, the rest in
# another, at once (tools/run_tests.py; pytest's "no tests collected" counts as a failure).
test: $(STAMP_TEST) chromium
	@NUMDL_REQUIRE_TORCH=1 NUMDL_REQUIRE_KERNELS=1 $(BIN)/python tools/run_tests.py $(PYTEST_ARGS)

# The suite as other CPUs would run it (AVX2 without AVX-512, AVX without FMA, SSE4.2, other thread
# counts): every library's runtime dispatch told to take a lower path (tools/cpu_profiles.py).
test-cpus: $(STAMP_TEST)
	$(BIN)/python tools/cpu_profiles.py -- -m "not browser" -q $(PYTEST_ARGS)

# Screenshots of every chapter (1280 px wide) in artifacts/screenshots/, from the browser tests.
screenshots: $(STAMP_TEST) chromium
	NUMDL_SCREENSHOTS=1 $(BIN)/python -m pytest -m browser $(PYTEST_ARGS)

# Everything but the browser tests, for a quick loop while editing.
test-fast: $(STAMP_TEST)
	$(BIN)/python -m pytest -m "not browser" $(PYTEST_ARGS)

bench: $(STAMP_TEST)
	@for script in benchmarks/*.py; do \
		echo "== $$script"; $(BIN)/python $$script --quick || exit $$?; \
	done

lint: $(STAMP_TEST)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/python -m marimo check src/numdl/tutorial/[0-9]*.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache artifacts src/numdl/*.so
