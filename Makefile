PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[demo]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[demo,test]"
	touch $@

demo: $(VENV)/.demo-installed
	$(BIN)/python -m gaussjax

test: $(VENV)/.test-installed
	$(BIN)/ruff check gaussjax tests benchmarks notebooks/execute.py
	$(BIN)/ruff format --check gaussjax tests benchmarks notebooks/execute.py
	$(BIN)/python -m pytest -n auto --nbmake notebooks tests gaussjax

$(VENV)/.benchmark-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[demo,test,benchmark]"
	touch $@

benchmark: $(VENV)/.benchmark-installed
	$(BIN)/python benchmarks/speed.py
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/progress.py

clean:
	rm -rf $(VENV) .pytest_cache
