# genomix: two commands on a fresh machine.
#   make demo   create/reuse .venv, install, run the demo on a small real file shipped in the repo
#   make test   create/reuse .venv, install with test extras, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The project admits any torch 2.x >= 2.2; this pin is only the first install, so pip takes the
# CPU wheel that lies on our machines instead of a multi-GB CUDA build. Override: make TORCH=torch
TORCH ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: demo test install install-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.torch: | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH)"
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install install-test: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/python -m genomix.demo

test: $(VENV)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(BIN)/python pipelines/bench_model.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
