# Two commands do all set-up on a fresh clone:
#   make run    serve the seed's counter on http://localhost:8080
#   make test   install the test dependencies and run the whole suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8080
WORKERS ?=

.PHONY: run test lint bench build venv clean mutate axe

# pip builds the compiled modules (Cython, see setup.py) into src/rweb; Cython
# also goes into the venv so that `make build` can rebuild them after an edit.
$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q 'Cython>=3.0,<4' 'setuptools>=77'
	$(PY) -m pip install -q -e .
	touch $@

# The test extra's packages only: reinstalling rweb itself would compile it again.
$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['test']))" > $(VENV)/test-requirements.txt
	$(PY) -m pip install -q -r $(VENV)/test-requirements.txt
	touch $@

venv: $(VENV)/.installed

# Recompile what changed since the last build (an edited .py or .pxd), in place.
# Without a C compiler the extensions are skipped and rweb runs as plain Python.
build: $(VENV)/.installed
	$(PY) setup.py -q build_ext --inplace

run: build
	$(PY) examples/rweb_counter.py --port $(PORT) $(if $(WORKERS),--workers $(WORKERS))

# axe-core, the accessibility checker the kit's browser tests inject (tests/tools.py finds it here).
AXE := build/npm/node_modules/axe-core/axe.min.js
$(AXE):
	npm install --prefix build/npm --no-audit --no-fund 'axe-core@4'
axe: $(AXE)

# With a C compiler present the compiled build must be the one under test (axe-core too where npm is).
test: $(VENV)/.installed-test build $(if $(shell command -v npm),$(AXE))
	$(PY) -m ruff check src tests examples benchmarks scripts setup.py
	RWEB_EXPECT_COMPILED=$$(command -v cc >/dev/null && echo 1) $(PY) -m pytest -q

# Mutation testing of the security checks (scripts/mutate.py, pure-Python copy in build/mutate):
# fails when a mutant survives. mutmut is pinned: the script reads its result files.
mutate: $(VENV)/.installed-test
	$(PY) -m pip install -q 'mutmut==3.8.1'
	$(PY) scripts/mutate.py

lint: $(VENV)/.installed-test
	$(PY) -m ruff check src tests examples benchmarks scripts setup.py

# BASELINE=DIR: a built checkout of an earlier rweb, measured in the same run
# (git worktree add DIR REV && (cd DIR && ../main/.venv/bin/python setup.py -q build_ext --inplace)).
BASELINE ?=
# Then the todo workload (benchmarks/todo.py: 100 keyed rows, against the bare server, 5
# alternated rounds, about 3 minutes), the real-time fan-out (benchmarks/fanout.py: 1,000, 5,000 and 10,000 readers, 5 alternated rounds, with the writer's reply and a bystander's click during the fan-out, about 15 minutes), what saving sessions costs
# (benchmarks/snapshot_cost.py, needs redis-server, about 3 minutes) and long lists
# (benchmarks/stream_rows.py), appended to BENCHMARKS.md.
bench: build
	$(PY) benchmarks/compare.py $(if $(BASELINE),--baseline $(BASELINE))
	$(PY) benchmarks/todo.py $(if $(BASELINE),--baseline $(BASELINE)) --json bench-results/todo.json > bench-results/todo.md
	{ printf '\n## A realistic page: 100 keyed todo rows, toggle one (benchmarks/todo.py)\n\n'; cat bench-results/todo.md; } >> BENCHMARKS.md
	$(PY) benchmarks/fanout.py --json bench-results/fanout.json > bench-results/fanout-tables.md
	{ printf '\n## Fan-out: one write, many sessions (benchmarks/fanout.py)\n\n'; cat bench-results/fanout-tables.md; } >> BENCHMARKS.md
	$(PY) benchmarks/snapshot_cost.py > bench-results/snapshot-cost.md
	{ printf '\n## Sessions saved for a resume elsewhere (benchmarks/snapshot_cost.py)\n\n'; cat bench-results/snapshot-cost.md; } >> BENCHMARKS.md
	$(PY) benchmarks/stream_rows.py > bench-results/stream-rows.md
	{ printf '\n## Long lists: streams (benchmarks/stream_rows.py)\n\n'; cat bench-results/stream-rows.md; } >> BENCHMARKS.md

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
	rm -f src/rweb/*.so src/rweb/*.c src/rweb/*/*.so src/rweb/*/*.c
