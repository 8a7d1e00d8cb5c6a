# The two commands: `make demo` and `make test`. Each builds .venv from scratch when needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_HOME ?= .mlcost-demo

.PHONY: setup test lint demo bench lock clean

# One install script for make and the Dockerfile (scripts/install.sh says why each step is so).
$(STAMP): pyproject.toml constraints.txt scripts/install.sh
	bash scripts/install.sh $(PYTHON) $(VENV) -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench/*.py)
	$(BIN)/ruff format --check src tests $(wildcard bench/*.py)
	$(BIN)/mypy

test: lint
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-tools.sh
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
