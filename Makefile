# Two commands on a fresh machine:  make run   and   make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.ipynb))

export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0
# Let Python cache compiled modules (.pyc) in .venv even where the shell sets
# PYTHONDONTWRITEBYTECODE (as CI machines and many containers do): without the cache every process
# compiles TensorFlow's modules again, ~20 CPU s per 'import tensorflow' instead of ~8, and
# 'make test' starts dozens of such processes (test workers, CLI subprocesses, notebook kernels).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test test-gpu-smoke unit notebooks-quick lab bench clean env sync-colab docs docs-test browser

env: $(STAMP)

# Create .venv when missing and install the pinned requirements plus ganlib (editable).
# --no-compile: pip would byte-compile every module of every package (TensorFlow's thousands,
# ~45 of the install's ~75 CPU seconds); Python compiles the ones imported when first imported.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Execute every notebook in order, in place, at the default preset (GPU -> 'gpu', else 'cpu').
run: $(STAMP)
	$(BIN)/python scripts/run_notebooks.py $(NOTEBOOKS)

# Unit tests, then every notebook top to bottom at the 'quick' preset under nbval and, beside
# both, the 'gpu' preset's smoke run. Tests and notebooks run in TEST_WORKERS processes (pytest-xdist) of one
# TensorFlow thread each: on 2 cores the unit tests took 620 s where one process of two threads
# took 964 s. Each notebook runs whole on one worker (--dist loadfile); lesson 05 reads lesson
# 02's run folder, so it runs after the others.
TEST_WORKERS ?= 2
ONE_THREAD := TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
NBVAL := GANLIB_PRESET=quick $(ONE_THREAD) $(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax \
	--nbval-current-env --nbval-cell-timeout=900
LATER_NOTEBOOKS := $(filter notebooks/05_%,$(NOTEBOOKS))
# The smoke run starts first and runs beside the unit tests and then the notebooks at 'quick' (its
# output printed after theirs): run one after the other, each left part of the 2 cores idle at its
# end (one worker or one notebook still busy) and while TensorFlow traces, one thread at a time;
# a fresh-clone CI with the smoke run beside the notebooks only used 1,804 CPU s in 1,075 s,
# with it beside both 1,610 CPU s in 963 s.
test: $(STAMP)
	@log=$$(mktemp); ( $(MAKE) --no-print-directory test-gpu-smoke > $$log 2>&1 ) & smoke=$$!; \
	status=0; $(ONE_THREAD) $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --durations=20 tests || status=$$?; \
	if [ $$status -eq 0 ]; then $(NBVAL) -n $(TEST_WORKERS) --dist loadfile \
		$(filter-out $(LATER_NOTEBOOKS),$(NOTEBOOKS)) || status=$$?; fi; \
	if [ $$status -eq 0 ]; then $(NBVAL) $(LATER_NOTEBOOKS) || status=$$?; fi; \
	smoke_status=0; wait $$smoke || smoke_status=$$?; \
	echo "---- make test-gpu-smoke (ran beside the unit tests and the notebooks) ----"; cat $$log; rm -f $$log; \
	[ $$status -eq 0 ] && [ $$smoke_status -eq 0 ]

# Every notebook at the 'gpu' preset on this CPU, with GANLIB_SMOKE=1 (each training and search
# stops after a few steps; nothing else changes: ganlib/smoke.py) and stand-in CelebA, Pokemon and
# MNIST in their real layouts, served from 127.0.0.1 with their own checksums
# (scripts/gpu_smoke.py). Copies are executed in a temporary folder, TEST_WORKERS at a time (much
# of the run is TensorFlow tracing, one thread): notebooks/ is not written.
test-gpu-smoke: $(STAMP)
	$(ONE_THREAD) $(BIN)/python scripts/gpu_smoke.py --jobs $(TEST_WORKERS) $(NOTEBOOKS)

unit: $(STAMP)
	$(ONE_THREAD) $(BIN)/python -m pytest -q -n $(TEST_WORKERS) tests

# The web book: the committed notebooks (never executed), the README's guides and the API
# reference from ganlib's docstrings, built into build/html. Any Sphinx warning fails it.
DOCS_STAMP := $(VENV)/.installed-docs
$(DOCS_STAMP): $(STAMP) requirements-docs.txt
	$(BIN)/python -m pip install --quiet -r requirements-docs.txt
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	rm -rf build/html build/doctrees
	TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 TF_CPP_MIN_LOG_LEVEL=3 \
		$(BIN)/python -m sphinx -b html -W --keep-going -q -E -d build/doctrees docs build/html
	@echo "web book: build/html/index.html"

# Debian's chromium and chromium-driver for the browser test, installed when missing (as root,
# with apt-get); anywhere else the target stops and says what to install.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium and chromium-driver (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null \
			|| { echo "error: apt-get could not install chromium and chromium-driver" >&2; exit 1; }; \
	else \
		echo "error: the browser test needs Debian's chromium and chromium-driver: sudo apt-get install chromium chromium-driver" >&2; \
		exit 1; \
	fi

# The built book in headless Chromium (docs/tests/test_book.py); screenshots in build/screenshots.
docs-test: docs browser
	$(BIN)/python -m pytest -q -p no:cacheprovider docs/tests

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

# The notebooks' Colab badges and install cells, derived from pyproject.toml ([project.urls], version).
sync-colab:
	$(PYTHON) scripts/sync_colab_cells.py

bench: $(STAMP)
	$(BIN)/python -m ganlib bench

clean:
	rm -rf $(VENV) runs notebooks/runs .pytest_cache build docs/guides
