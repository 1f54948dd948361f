PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CHURNCTL := $(VENV)/bin/churnctl
DEMO_ARTIFACTS ?= .demo-artifacts

.PHONY: help install test test-slow lint format bench demo data clean

help:
	@echo "make demo   - create .venv, install churnctl, run the lifecycle on data/"
	@echo "make test   - create .venv with test extras and run the test suite (about 2 minutes)"
	@echo "make test-slow - the full-size statistical and fault-injection suites"
	@echo "make lint   - ruff (lint and format check) and mypy"
	@echo "make bench  - churnctl against floors and a peer (long at the default sizes; BENCH_* settings in README)"
	@echo "make data   - regenerate the demo data in data/ with churnctl simulate"

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("churnctl needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

test: $(VENV)/.installed
	$(PY) -m pytest -q -n auto tests -m "not slow"

test-slow: $(VENV)/.installed
	$(PY) -m pytest -q -n auto tests -m slow

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check churnctl tests
	$(VENV)/bin/ruff format --check churnctl tests
	$(VENV)/bin/mypy

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix churnctl tests
	$(VENV)/bin/ruff format churnctl tests

bench: $(VENV)/.installed
	$(PY) -m tests.benchmarks

data: $(VENV)/.installed
	$(CHURNCTL) simulate --rows 5000 --seed 7 --output data/customers.csv
	$(CHURNCTL) simulate --rows 2000 --seed 8 --shift Age=+4 --mix Geography=Germany:0.45 --output data/new_batch.csv
	$(CHURNCTL) simulate --rows 2000 --seed 9 --output data/stable_batch.csv
	printf '%s\n' '{"CreditScore": 650, "Geography": "France", "Gender": "Male", "Age": 35, "Tenure": 5, "Balance": 50000, "NumOfProducts": 2, "HasCrCard": 1, "IsActiveMember": 1, "EstimatedSalary": 60000}' > data/row.json

demo: $(VENV)/.installed
	rm -rf $(DEMO_ARTIFACTS)
	$(CHURNCTL) --artifacts $(DEMO_ARTIFACTS) ingest data/customers.csv --target Exited --seed 42
	$(CHURNCTL) --artifacts $(DEMO_ARTIFACTS) train
	$(CHURNCTL) --artifacts $(DEMO_ARTIFACTS) evaluate --report $(DEMO_ARTIFACTS)/evaluation.html
	$(CHURNCTL) --artifacts $(DEMO_ARTIFACTS) predict --json data/row.json
	$(CHURNCTL) --artifacts $(DEMO_ARTIFACTS) predict --input data/new_batch.csv --output $(DEMO_ARTIFACTS)/new_batch_scored.csv
	$(CHURNCTL) --artifacts $(DEMO_ARTIFACTS) evaluate --data data/new_batch.csv
	$(CHURNCTL) --artifacts $(DEMO_ARTIFACTS) drift-check --current data/stable_batch.csv
	@echo "drift-check on the drifted batch exits 1 (drift detected):"
	$(CHURNCTL) --artifacts $(DEMO_ARTIFACTS) drift-check --current data/new_batch.csv --report $(DEMO_ARTIFACTS)/drift.html || test $$? -eq 1
	@echo "reports: $(DEMO_ARTIFACTS)/evaluation.html and $(DEMO_ARTIFACTS)/drift.html (open them in a browser)"
	$(CHURNCTL) --artifacts $(DEMO_ARTIFACTS) labels add data/new_batch.csv --id-column CustomerId --predictions $(DEMO_ARTIFACTS)/new_batch_scored.csv
	$(CHURNCTL) --artifacts $(DEMO_ARTIFACTS) retrain --data data/new_batch.csv
	$(CHURNCTL) --artifacts $(DEMO_ARTIFACTS) monitor --report $(DEMO_ARTIFACTS)/history.html
	$(CHURNCTL) --artifacts $(DEMO_ARTIFACTS) models history
	$(CHURNCTL) --artifacts $(DEMO_ARTIFACTS) models list
	@echo "the demo's registry is $(DEMO_ARTIFACTS): source .venv/bin/activate; export CHURNCTL_ARTIFACTS=$(DEMO_ARTIFACTS); churnctl models list"

clean:
	rm -rf $(VENV) $(DEMO_ARTIFACTS) .pytest_cache .bench-venv
