# Every target bootstraps what it needs: a fresh machine only needs python3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench lint sysdeps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lint]'
	touch $(STAMP)

# Debian packages the tests drive for real: an OCI registry and headless Chromium.
sysdeps:
	@if ! command -v docker-registry >/dev/null || ! command -v chromium >/dev/null \
	    || ! command -v htpasswd >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends docker-registry apache2-utils chromium >/dev/null; \
	  else \
	    echo "Install docker-registry, apache2-utils and chromium (apt), or run as root." >&2; \
	    exit 1; \
	  fi; \
	fi

run: $(STAMP)
	$(BIN)/imagetrail run

test: $(STAMP) sysdeps
	IMAGETRAIL_REQUIRE_SYSDEPS=1 $(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m tests.bench

lint: $(STAMP)
	$(BIN)/ruff check etl tests
	$(BIN)/ruff format --check etl tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) reports/out imagetrail.duckdb .pytest_cache .mypy_cache
