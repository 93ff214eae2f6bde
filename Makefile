# Two commands do everything on a fresh machine: `make book` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KENLM_STAMP := $(VENV)/.kenlm-order20
DATA ?= $(if $(LIT_RNN_DATA),$(LIT_RNN_DATA),data)
PRESET ?= small
JOBS ?= 2

.PHONY: setup test book lab clean

setup: $(STAMP) $(KENLM_STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# kenlm's Python module must be compiled for 20-grams; --no-cache-dir keeps pip from reusing
# a cached default (order 6) wheel.
$(KENLM_STAMP): $(STAMP)
	MAX_ORDER=20 $(BIN)/pip install --quiet --no-cache-dir --no-binary kenlm kenlm==0.3.0
	$(BIN)/python -c "import kenlm"
	touch $@

test: setup
	LIT_RNN_DATA=$(DATA) $(BIN)/python -m pytest

book: setup
	LIT_RNN_DATA=$(DATA) $(BIN)/lit-rnn book --preset $(PRESET)

clean:
	rm -rf _build
