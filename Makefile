# The two quick-start commands: `make demo` and `make test`.
# Both create (or reuse) the virtual environment in .venv themselves.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "paperbot needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## The main job on the bundled samples with the embedded defaults: ingest the dumps
## (they are from 2025) and a Hugging Face daily list of the same day, load the demo
## subscriptions, deliver the digests as .eml and Markdown files under paperbot-data/.
demo: $(STAMP)
	$(BIN)/paperbot ingest --year 2025 examples/dumps
	$(BIN)/paperbot ingest examples/hf_daily
	$(BIN)/paperbot subscriptions import examples/subscriptions.csv
	$(BIN)/paperbot digest
	@echo "digests: paperbot-data/outbox (.eml) and paperbot-data/digests (.md); run 'make demo' again: nothing is sent twice"

## Lint, format check, type check and the whole test suite: one worker per core (up to 4)
## for the tests that keep a core busy, and one more for the `serial` tests (real services
## on the clock, mostly waiting), which start first, one after another.
WORKERS ?= $(shell $(PYTHON) -c 'import os; print(min(os.cpu_count() or 1, 4) + 1)')
test: $(STAMP)
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench
	$(BIN)/mypy
	@# The tests start paperbot as a process hundreds of times: compiled once here, its
	@# modules are not compiled again at each start where PYTHONDONTWRITEBYTECODE is set.
	$(BIN)/python -m compileall -q bot tests
	$(BIN)/pytest -n $(WORKERS) --dist loadgroup

format: $(STAMP)
	$(BIN)/ruff format bot tests bench
	$(BIN)/ruff check --fix bot tests bench

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/hf_ingest.py
	$(BIN)/python bench/matching.py
	$(BIN)/python bench/selection.py
	$(BIN)/python bench/entry_forms.py
	$(BIN)/python bench/following.py
	$(BIN)/python bench/delivery.py
	$(BIN)/python bench/webhook.py
	$(BIN)/python bench/digest_output.py
	$(BIN)/python bench/manage_page.py
	$(BIN)/python bench/similarity.py

clean:
	rm -rf $(VENV) paperbot-data .pytest_cache .mypy_cache .ruff_cache
