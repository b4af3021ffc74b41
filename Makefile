# Everything a fresh Debian machine needs beyond python3, make and gcc is
# installed by these targets (the venv, PostgreSQL for tests, wrk for benches).

SHELL := /bin/bash
# pipefail and -e so a failing step inside a multi-line recipe fails the target.
.SHELLFLAGS := -eu -o pipefail -c

VENV := .venv
BIN := $(VENV)/bin
# The stamp lets `make` skip the slow pip install until its inputs change.
STAMP := $(VENV)/.installed

# bench/ may not exist yet; naming a missing path makes ruff and mypy fail.
# mypy gets the paths explicitly for the same reason (they match `files` in
# pyproject.toml once all three exist).
LINT_PATHS := $(wildcard src tests bench)

# Files starting with _ are shared helpers, not benchmarks.
BENCH_SCRIPTS := $(sort $(filter-out bench/_%,$(wildcard bench/*.py)))

PYTEST_ARGS ?=

# Not root on a developer machine: apt-get needs sudo there.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: venv run lint test bench clean lock

venv: $(STAMP)

# constraints.txt is optional so that deleting it and running `make lock`
# re-resolves everything from pyproject.toml.
$(STAMP): pyproject.toml $(wildcard constraints.txt)
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(if $(wildcard constraints.txt),-c constraints.txt) -e '.[dev]'
	touch $@

run: $(STAMP)
	NEURONX_DATABASE_URL="$${NEURONX_DATABASE_URL:-sqlite:///neuronx.db}" \
		$(BIN)/neuronx serve --host 127.0.0.1 --port 8000 --config examples/neuronx.yaml

lint: $(STAMP)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/mypy $(LINT_PATHS)

# The trap is set before the cluster starts so that a half-started cluster,
# a failing pytest or Ctrl-C all still stop it; the recipe's exit status is
# pytest's.
test: $(STAMP) lint
	trap 'rc=$$?; bash scripts/pgtest.sh stop || true; exit $$rc' EXIT; \
	url="$$(bash scripts/pgtest.sh start)"; \
	NEURONX_TEST_POSTGRES_URL="$$url" $(BIN)/pytest $(PYTEST_ARGS)

bench: $(STAMP)
ifeq ($(BENCH_SCRIPTS),)
	@echo "bench: no bench/*.py to run"
else
	command -v wrk >/dev/null || { \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	trap 'rc=$$?; bash scripts/pgtest.sh stop || true; exit $$rc' EXIT; \
	url="$$(NEURONX_PGTEST_DURABLE=1 bash scripts/pgtest.sh start)"; \
	for script in $(BENCH_SCRIPTS); do \
		echo "== $$script"; \
		NEURONX_BENCH_POSTGRES_URL="$$url" $(BIN)/python "$$script"; \
	done
endif

clean:
	-bash scripts/pgtest.sh stop
	rm -rf $(VENV) .pgtest .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist
	rm -rf src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# Pins what the current venv has, so CI and fresh machines install the same
# versions. pip and setuptools are left out by pip freeze itself; the project
# is left out so the file stays valid after a version bump.
lock: $(STAMP)
	{ echo "# Regenerate with: make lock"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -vi '^neuronx[ =@]'; \
	} > constraints.txt.tmp
	mv constraints.txt.tmp constraints.txt
	touch $(STAMP)
