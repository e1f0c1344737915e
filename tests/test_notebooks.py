"""Static checks of every lesson notebook (executing them is nbval's job in `make test`)."""
import json
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
EXPECTED_LESSONS = ["00", "01", "02", "03", "04", "05", "06"]


def _cells(path):
    return json.loads(path.read_text())["cells"]


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_the_series_has_its_lessons():
    found = [path.name[:2] for path in NOTEBOOKS]
    assert found == sorted(found)
    assert set(found) <= set(EXPECTED_LESSONS), found
    assert found, "no notebook found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_open_in_colab_badge_points_to_this_notebook(path):
    first = _cells(path)[0]
    assert first["cell_type"] == "markdown"
    text = _source(first)
    assert "colab-badge.svg" in text
    assert f"/blob/main/notebooks/{path.name}" in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_installs_ganlib_in_colab_then_sets_up(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    first = _source(code[0])
    assert '"google.colab" in sys.modules' in first
    assert "%pip install" in first and "ganlib" in first
    assert "ganlib.setup(" in first


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_parameters_cell_sized_by_the_preset(path):
    tagged = [c for c in _cells(path) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"
    assert "ganlib.preset()" in _source(tagged[0]) or "PRESET" in _source(tagged[0])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_with_outputs_no_errors_and_small(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code" and _source(c).strip()]
    unrun = [i for i, c in enumerate(code) if c.get("execution_count") is None]
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not unrun, f"{path.name}: code cells {unrun} have no stored output; run `make run`"
    assert not errors, f"{path.name}: stored error output {errors[0].get('ename')}"
    assert path.stat().st_size < 5e6, f"{path.name} is {path.stat().st_size / 1e6:.1f} MB"
