# The two commands: `make demo` and `make test`. Each builds .venv from scratch when needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_HOME ?= .mlcost-demo

.PHONY: setup test lint demo bench lock clean

# torch goes in first, with pip, pinned to the CPU build by constraints.txt (an unpinned torch pulls
# a CUDA build of several GB): pip finds that build where this machine's pip config points
# (find-links, extra index), which uv does not read. The rest, at the exact versions of
# constraints.txt, goes in with uv, which downloads in parallel (the whole rule: ~90 s instead of
# ~200 s all-pip on 2 cores, cold caches) and keeps the torch already installed.
# --system-certs: where TLS goes through a proxy, its CA may be in the system store only.
# --compile-bytecode: pip writes .pyc files at install and uv does not; where the environment sets
# PYTHONDONTWRITEBYTECODE (this one does) every process would compile transformers & co. from
# source on each start: the test suite took 13 min instead of 9.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt torch uv
	$(BIN)/uv pip install -q --system-certs --compile-bytecode --python $(BIN)/python -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench/*.py)
	$(BIN)/ruff format --check src tests $(wildcard bench/*.py)
	$(BIN)/mypy

test: lint
	bash scripts/ensure-postgres.sh
	$(BIN)/pytest

demo: $(STAMP)
	$(BIN)/mlcost --home $(DEMO_HOME) demo

bench: $(STAMP)
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

lock: $(STAMP)
	{ head -n 2 constraints.txt; $(BIN)/python -m pip freeze --exclude-editable | grep -v '^mlcost'; } > constraints.tmp
	mv constraints.tmp constraints.txt

clean:
	rm -rf $(VENV) $(DEMO_HOME) .mypy_cache .ruff_cache .pytest_cache
