PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LINTED := gaussjax tests benchmarks notebooks/execute.py docs/hooks.py
export NO_MKDOCS_2_WARNING := 1

.PHONY: demo test test-oldest chromium docs docs-serve lint benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[demo]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[demo,test,docs]"
	touch $@

$(VENV)/.docs-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $@

demo: $(VENV)/.demo-installed
	$(BIN)/python -m gaussjax

# tests/test_docs.py opens the built site in headless Chromium. Where no Chromium is found it is
# installed from Debian's packages (as root, as on CI); otherwise make stops and says what to do.
chromium:
	@if command -v chromium || command -v chromium-browser || command -v google-chrome; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the documentation's browser check"; \
		apt-get -o DPkg::Lock::Timeout=300 update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
			--no-install-recommends chromium >/dev/null && command -v chromium; \
	else \
		echo "make test needs Chromium for the documentation's browser check: install it" \
			"(Debian/Ubuntu: sudo apt-get install chromium) and run make test again." >&2; \
		exit 1; \
	fi

test: $(VENV)/.test-installed chromium
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	GAUSSJAX_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -n auto --nbmake notebooks tests gaussjax

# The suite (not the notebooks or the site) on the oldest versions pyproject.toml allows: uv
# installs the lowest version of each dependency that its floor admits.
OLDEST := .venv-oldest

$(OLDEST)/.installed: pyproject.toml
	$(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet uv
	$(OLDEST)/bin/uv pip install --quiet --python $(OLDEST)/bin/python --resolution lowest-direct \
		-e ".[test]"
	touch $@

test-oldest: $(OLDEST)/.installed
	$(OLDEST)/bin/python -c "import jax, equinox; print('jax', jax.__version__, 'equinox', equinox.__version__)"
	$(OLDEST)/bin/python -m pytest -n auto tests gaussjax --ignore tests/test_docs.py

docs: $(VENV)/.docs-installed
	$(BIN)/mkdocs build --strict

docs-serve: $(VENV)/.docs-installed
	$(BIN)/mkdocs serve

$(VENV)/.benchmark-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[demo,test,benchmark]"
	touch $@

benchmark: $(VENV)/.benchmark-installed
	$(BIN)/python benchmarks/speed.py
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/progress.py

clean:
	rm -rf $(VENV) $(OLDEST) .pytest_cache site .cache
