# Every target creates .venv and installs what it needs; nothing is done by hand.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
PYTEST_WORKERS ?= 2

.PHONY: all demo test test-deps lint coverage bench bench-quick soak fuzz compat clean venv

all: test

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,cli,speedups,brotli,zstd,dns]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m hyperclient.demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench compat
	$(BIN)/ruff format --check src tests bench compat
	$(BIN)/mypy

# A second, HTTP/1.0-speaking forward proxy for the proxy tests (skipped when absent).
test-deps:
	@if ! command -v tinyproxy >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			(apt-get update -qq && apt-get install -y -qq tinyproxy >/dev/null) \
				|| echo "tinyproxy could not be installed: its proxy tests will be skipped"; \
		else echo "tinyproxy not installed: its proxy tests will be skipped"; fi; \
	fi

test: lint test-deps
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q -p no:cacheprovider $(PYTEST_ARGS)

coverage: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q -p no:cacheprovider --cov --cov-branch --cov-report=term-missing:skip-covered

bench: $(STAMP)  ## side-by-side benchmark; installs nginx when root and missing
	$(BIN)/python bench/run.py --install-nginx $(BENCH_ARGS)

bench-quick: $(STAMP)
	$(BIN)/python bench/run.py --install-nginx --quick $(BENCH_ARGS)

soak: $(STAMP)
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

fuzz: $(STAMP)  ## coverage-guided fuzzing of the parser and frame codec (atheris)
	$(BIN)/python -m pip install -q 'atheris>=2.3'
	$(BIN)/python tests/fuzz/run.py $(FUZZ_ARGS)

compat: $(STAMP)  ## real aiohttp-client libraries' own suites, on aiohttp then on hyperclient
	$(BIN)/python compat/run.py $(COMPAT_ARGS)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache .pytest_cache .compat
