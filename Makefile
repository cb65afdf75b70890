# Set-up in two commands: `make demo` and `make test` each create .venv, install
# the package with what it needs, and run.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint format clean bench bench-quick bench-pass bench-deps bench-scale bench-defaults bench-penalties

install: $(STAMP)

$(STAMP): pyproject.toml setup.py $(wildcard src/softmax_classifier/_kernels*.[ch]) src/softmax_classifier/_cd.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/softmax demo

# Two test processes, a file each at a time (module fixtures stay in one process):
# most of the suite's time is subprocesses and clusters starting, which overlap
# well (2 cores: 390 s instead of 690 s). No test asserts a timing.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

# Benchmarks (benchmarks/README.md). PyTorch and scikit-learn-intelex are optional
# peers: installed when they can be had, skipped by the scripts with a message otherwise.
bench-deps: $(STAMP)
	$(BIN)/python -m pip install --quiet torch==2.13.0 || echo "PyTorch not installed: its rows will be skipped"
	$(BIN)/python -m pip install --quiet scikit-learn-intelex || echo "scikit-learn-intelex not installed: its rows will be skipped"

bench-pass: bench-deps
	$(BIN)/python benchmarks/bench_pass.py

bench-quick: bench-deps
	$(BIN)/python benchmarks/bench_solvers.py --quick

bench-scale: $(STAMP)
	$(BIN)/python benchmarks/bench_scale.py

bench-defaults: $(STAMP)
	$(BIN)/python benchmarks/bench_defaults.py $(ARGS)

bench-penalties: $(STAMP)
	$(BIN)/python benchmarks/bench_penalties.py $(ARGS)

bench: bench-deps
	$(BIN)/python benchmarks/bench_pass.py
	$(BIN)/python benchmarks/bench_solvers.py

clean:
	rm -rf $(VENV) build dist .hypothesis
