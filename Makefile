# Two commands on a fresh machine:  make run   and   make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.ipynb))

export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0

.PHONY: run test unit notebooks-quick lab bench clean env sync-colab

env: $(STAMP)

# Create .venv when missing and install the pinned requirements plus ganlib (editable).
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Execute every notebook in order, in place, at the default preset (GPU -> 'gpu', else 'cpu').
run: $(STAMP)
	$(BIN)/python scripts/run_notebooks.py $(NOTEBOOKS)

# Unit tests, then every notebook top to bottom at the 'quick' preset under nbval.
test: $(STAMP)
	$(BIN)/python -m pytest -q tests
	GANLIB_PRESET=quick $(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax \
		--nbval-current-env --nbval-cell-timeout=900 $(NOTEBOOKS)

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

# The notebooks' Colab badges and install cells, derived from pyproject.toml ([project.urls], version).
sync-colab:
	$(PYTHON) scripts/sync_colab_cells.py

bench: $(STAMP)
	$(BIN)/python -m ganlib bench

clean:
	rm -rf $(VENV) runs notebooks/runs .pytest_cache
