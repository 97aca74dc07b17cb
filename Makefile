# Two commands do all set-up on a fresh machine (Python 3.11+ and make are all they need):
#   make demo   # embedded broker + worker + synthetic records in, de-identified records out
#   make test   # every test, on the embedded broker
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean fuzz-full

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/phi-pipeline demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest

# Arbitrary JSON in every field through the whole processing path with the real model detector, at full
# size (the same test runs 60 examples in `make test`). Hours on 2 cores: see README, Tests.
fuzz-full: $(STAMP)
	PIPELINE_FUZZ_EXAMPLES=200000 $(BIN)/pytest -q -p no:cacheprovider --timeout=0 tests/unit/test_processing_fuzz.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
