# Everything a fresh machine needs, from Python 3.11 + pip.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest clean

$(STAMP): pyproject.toml scripts/system_deps.sh
	bash scripts/system_deps.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Last: the optimization, whose final line is the path of its report.html.
demo: $(STAMP)
	$(VENV)/bin/stratopt backtest examples/backtesting_py_parity.yaml
	$(VENV)/bin/stratopt ml tune examples/ml_two_stage_synthetic.yaml
	$(PY) examples/demo.py
	$(VENV)/bin/stratopt optimize examples/hedge_grid_synthetic.yaml
	@if [ -f ../shared/data/BTCPERP_1m.csv.gz ]; then \
		$(VENV)/bin/stratopt optimize examples/hedge_grid_btcperp.yaml; \
	else \
		echo "examples/hedge_grid_btcperp.yaml skipped: ../shared/data/BTCPERP_1m.csv.gz not found"; \
	fi
	$(VENV)/bin/stratopt optimize examples/sma_cross_synthetic.yaml

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# Two pytest workers: CI's machine has 2 cores, and many tests wait on a subprocess, a
# database or a browser. worksteal gives each worker half of the tests in file order (a
# module's fixtures are set up once) and moves tests from the end of one's share to the
# other when it runs out.
pytest: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --dist worksteal

test: lint typecheck pytest

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
