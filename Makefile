# Two commands do all set-up on a fresh clone:
#   make run    serve the seed's counter on http://localhost:8080
#   make test   install the test dependencies and run the whole suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8080
WORKERS ?=

.PHONY: run test lint bench venv clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

run: $(VENV)/.installed
	$(PY) examples/rweb_counter.py --port $(PORT) $(if $(WORKERS),--workers $(WORKERS))

test: $(VENV)/.installed-test
	$(PY) -m ruff check src tests examples benchmarks
	$(PY) -m pytest -q

lint: $(VENV)/.installed-test
	$(PY) -m ruff check src tests examples benchmarks

bench: $(VENV)/.installed
	$(PY) benchmarks/compare.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
