# airan: two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
TORCH_PIN := torch==2.13.0

.PHONY: demo test install install-dev bench calibrate clean lint

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first, pinned: an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q $(TORCH_PIN)
	$(BIN)/pip install -q -e .
	touch $(STAMP)

$(DEVSTAMP): $(STAMP)
	$(BIN)/pip install -q -e ".[dev]"
	touch $(DEVSTAMP)

install: $(STAMP)
install-dev: $(DEVSTAMP)

demo: $(STAMP)
	$(BIN)/airan demo --out airan-output

test: $(DEVSTAMP)
	$(BIN)/python -m pytest -q tests

calibrate: $(STAMP)
	$(BIN)/airan calibrate --scenario uma-19 --out airan-output

bench: $(STAMP)
	$(BIN)/python bench/twin_speed.py

lint: $(DEVSTAMP)
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) airan-output
