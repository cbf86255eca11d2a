# creditlab: `make book` builds the HTML book, `make test` runs every check.
# Both create .venv (with $(PYTHON), 3.10+) and install what they need from this repo.

# Set these on the command line (make test PYTHON=python3.11), never from the environment:
# `:=` ignores environment variables of the same name, so a VENV or PYTHON exported for
# another project cannot point make at a venv that has packages this repo does not install.
PYTHON := python3
VENV := .venv
BIN := $(VENV)/bin
# torch for the book. 2.13.0 resolves to a local CPU wheel on the project's machines;
# elsewhere e.g.  make book TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC := torch==2.13.0
NOTEBOOKS := $(shell find book -name '*.ipynb' -not -path '*/_build/*' -not -path '*/.ipynb_checkpoints/*' 2>/dev/null | sort)
STAMP := $(VENV)/.creditlab-installed
SOURCES := setup.py pyproject.toml CMakeLists.txt $(wildcard csrc/*.h csrc/*.cpp csrc/cuda/*.h csrc/cuda/*.cuh csrc/cuda/*.cu)

.PHONY: help install test lint unit notebooks nbval book mathjax check-html lab bench seeds clean \
	test-integrations bench-integrations

help:
	@echo "make book   set up .venv, execute every notebook, build book/_build/html"
	@echo "make test   set up .venv, then ruff, pytest (unit + property), nbstripout --verify, every chapter once"
	@echo "make nbval  the chapters under nbval, as instructors run them"
	@echo "make check-html  open every page of the built book in headless Chromium, offline, and check it"
	@echo "make lab    JupyterLab on the book"
	@echo "make bench  benchmarks/bench_returns.py (writes benchmarks/results/returns.md)"
	@echo "make seeds  seed sweep: chapters on unseen seeds, asserts recorded (CHAPTERS=, SWEEP_SEEDS=)"
	@echo "make test-integrations  own venv (.venv-integrations) with verl, TRL, Ray Data: tests/integrations"
	@echo "make bench-integrations  benchmarks/bench_integrations.py in that venv"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

$(STAMP): $(BIN)/python $(SOURCES)
	$(BIN)/python -m pip install "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -e ".[book,test]"
	$(BIN)/python -c "import creditlab, json; print(json.dumps(creditlab.backend_info()))"
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .

# Each chapter is executed once: tools/run_book.py runs them (two at a time, 150 s budget
# each, a failing assert fails the run) into the jupyter-cache that `jupyter-book build`
# reads, so `make test` then `make book` does not execute a notebook twice.
test: install lint
	$(if $(NOTEBOOKS),$(BIN)/nbstripout --verify $(NOTEBOOKS))
	$(BIN)/python -m pytest tests
	$(BIN)/python tools/run_book.py

unit: install
	$(BIN)/python -m pytest tests

notebooks: install
	$(BIN)/python tools/run_book.py

# The instructors' way to validate the chapters (book/instructors.md): nbval runs every cell
# as a test item; tests/conftest.py fails a chapter over its 150 s budget.
nbval: install
	$(BIN)/python -m pytest book --nbval-lax --nbval-current-env --nbval-cell-timeout=300

# Executed chapters hold no progress bars: creditlab.progress draws none when
# CREDITLAB_PROGRESS=off (widget bars in JupyterLab, `make lab`, and live bars in a terminal
# otherwise). Any tool that executes the notebooks for the book must set it too.
test notebooks nbval book seeds: export CREDITLAB_PROGRESS = off

book: install mathjax
	$(BIN)/python tools/run_book.py
	$(BIN)/jupyter-book build book --warningiserror --keep-going
	@echo "open book/_build/html/index.html"

# MathJax 3.2.2 (pinned, hash-checked) from the npm registry into book/_static/mathjax,
# which the build copies into the book: math renders with no network (_config.yml).
mathjax: install
	$(BIN)/python tools/fetch_mathjax.py

# After `make book`: every page in headless Chromium with the network off (Debian's
# chromium, installed here when missing); fails on raw TeX, raw Markdown tables, warnings
# or progress trails in outputs, tracebacks, missing images, broken links... (see the
# script). Screenshots in book/_build/screenshots/.
check-html: install
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)
	$(BIN)/python tools/check_html.py

lab: install
	$(BIN)/jupyter lab book

bench: install
	$(BIN)/python benchmarks/bench_returns.py

# Seed sweep (not part of CI: slow): every chapter, or CHAPTERS="ch05 ch06", on seeds it was
# not written on, each assert recorded instead of raised; prints one table per chapter.
SWEEP_SEEDS := 5,6,7,8,9
CHAPTERS :=
seeds: install
	$(BIN)/python tools/seed_sweep.py $(CHAPTERS) --seeds $(SWEEP_SEEDS)

# creditlab inside verl, TRL and Ray Data (creditlab/integrations, tests/integrations). Its own
# venv, never the one `make test` uses: the default CI install has none of these peers (their
# tests skip there). verl goes in with --no-deps (its full dependency set is a GPU training
# stack); extra "integrations-test" holds the few imports its core_algos and
# ray_trainer.compute_advantage need, TRL and Ray Data. The editable install declares the
# verl.plugins entry point that tests/integrations checks.
INT_VENV := .venv-integrations
INT_BIN := $(INT_VENV)/bin
INT_STAMP := $(INT_VENV)/.creditlab-installed
VERL_SPEC := verl==0.9.1

$(INT_BIN)/python:
	$(PYTHON) -m venv $(INT_VENV)
	$(INT_BIN)/python -m pip install --upgrade pip

$(INT_STAMP): $(INT_BIN)/python $(SOURCES)
	$(INT_BIN)/python -m pip install "$(TORCH_SPEC)"
	$(INT_BIN)/python -m pip install -e ".[test,integrations-test]"
	$(INT_BIN)/python -m pip install --no-deps "$(VERL_SPEC)"
	$(INT_BIN)/python -c "import verl.trainer.ppo.core_algos, trl, ray.data; print('peers ok')"
	touch $(INT_STAMP)

test-integrations: $(INT_STAMP)
	$(INT_BIN)/python -m pytest tests/integrations -ra

# verl part pinned to one core; Ray part unpinned (its workers are other processes)
bench-integrations: $(INT_STAMP)
	mkdir -p build
	taskset -c 0 $(INT_BIN)/python benchmarks/bench_integrations.py --out build/bench_verl.md
	$(INT_BIN)/python benchmarks/bench_integrations.py --no-verl --ray --out build/bench_ray.md
	cat build/bench_verl.md build/bench_ray.md > benchmarks/results/integrations.md

clean:
	rm -rf build book/_build book/_static/mathjax creditlab/_C*.so *.egg-info  # build/ holds the CUDA emulator's cache too
