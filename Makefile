# Everything a fresh machine needs: `make demo` and `make test` create the environments first.
PY ?= python3
VENV := .venv
ORACLE := .oracle-venv
BIN := $(VENV)/bin
TF_PYTHON := $(abspath $(ORACLE))/bin/python
PYTEST_ARGS ?= -n 2

.PHONY: setup oracle demo test bench lint api clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# Real TensorFlow, in an environment of its own: only tests and benchmarks use it, as an oracle.
oracle: $(ORACLE)/.installed

$(ORACLE)/.installed:
	$(PY) -m venv $(ORACLE)
	$(ORACLE)/bin/pip install -q 'tensorflow-cpu>=2.16'
	touch $@

demo: setup
	$(BIN)/flowstone demo

test: setup oracle
	FLOWSTONE_TF_PYTHON=$(TF_PYTHON) $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup oracle
	FLOWSTONE_TF_PYTHON=$(TF_PYTHON) $(BIN)/python -m benchmarks

api: setup
	$(BIN)/python -m flowstone.api.generate

lint:
	$(BIN)/ruff check flowstone tests benchmarks

clean:
	rm -rf $(VENV) $(ORACLE) .pytest_cache
