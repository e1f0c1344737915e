"""The project's public home is declared once ([project.urls] in pyproject.toml); the notebooks' Colab
badges and install cells are derived from it by scripts/sync_colab_cells.py and must agree with it."""
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import ganlib

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("sync_colab_cells", ROOT / "scripts" / "sync_colab_cells.py")
sync_colab_cells = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync_colab_cells)

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_pyproject_declares_the_public_home_once():
    project = sync_colab_cells.project()
    urls = project["urls"]
    assert set(urls) >= {"Homepage", "Repository", "Issues"}
    repository = sync_colab_cells.repository_url()
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repository), repository
    assert urls["Homepage"].rstrip("/") == repository
    assert urls["Issues"].rstrip("/") == repository + "/issues"
    assert project["version"] == ganlib.__version__


def _git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


def test_each_install_cell_pins_a_commit_of_this_repository_the_notebook_ran_with():
    """Issue 26: the install line pinned a tag (v0.1.0) that never existed. Each notebook now pins the
    commit recorded in its metadata when it was executed, and that commit must be in the history."""
    assert _git("rev-parse", "--git-dir").returncode == 0, (
        "this test needs the git repository (a clone, not an exported copy): it checks that every commit "
        "the notebooks' Colab install cells pin is in the history")
    for path in NOTEBOOKS:
        notebook = json.loads(path.read_text())
        commit = sync_colab_cells.install_ref(notebook, path.name)
        first_code = "".join(next(c for c in notebook["cells"] if c["cell_type"] == "code")["source"])
        assert f'"ganlib @ git+{sync_colab_cells.repository_url()}@{commit}"' in first_code, path.name
        assert _git("cat-file", "-e", f"{commit}^{{commit}}").returncode == 0, f"{path.name}: {commit} is no commit here"
        assert _git("merge-base", "--is-ancestor", commit, "HEAD").returncode == 0, (
            f"{path.name}: {commit} is not in the history of HEAD")
        assert _git("cat-file", "-e", f"{commit}:ganlib/__init__.py").returncode == 0, path.name


def test_a_failed_install_stops_the_first_cell_with_one_line(monkeypatch):
    """In Colab the block runs pip; when pip fails, the cell raises SystemExit with pip's last line
    (not a ModuleNotFoundError at the next line, blamed on a skipped cell)."""
    block = sync_colab_cells.colab_block("0" * 40)
    calls = []

    def failing_pip(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 1, "", "Collecting ganlib\nERROR: Could not find a version "
                                                           "that satisfies the requirement\n")
    monkeypatch.setattr(subprocess, "run", failing_pip)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    with pytest.raises(SystemExit) as stopped:
        exec(block, {})
    message = str(stopped.value)
    assert "\n" not in message and message.startswith("Installing ganlib failed: ERROR: Could not find a version")
    assert "Troubleshooting" in message
    assert calls[0][1:5] == ["-m", "pip", "install", "-q"] and calls[0][-1].endswith("@" + "0" * 40)
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: subprocess.CompletedProcess(command, 0, "", ""))
    exec(block, {})  # a successful install goes on to the import below


def test_a_notebook_without_a_recorded_commit_is_reported(tmp_path):
    notebook = json.loads(NOTEBOOKS[0].read_text())
    del notebook["metadata"]["ganlib"]
    path = tmp_path / "98_unpinned.ipynb"
    path.write_text(json.dumps(notebook))
    with pytest.raises(ValueError, match="98_unpinned.ipynb: its metadata records no ganlib commit"):
        sync_colab_cells.sync(check=True, paths=[path])


def test_every_notebook_agrees_with_pyproject():
    disagreeing = sync_colab_cells.sync(check=True)
    assert not disagreeing, f"run `python scripts/sync_colab_cells.py`: {disagreeing}"
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        first_code = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
        assert "%pip" not in first_code, path.name  # a failed %pip would not stop the cell
        fork_lines = [x for x in first_code.splitlines() if x.strip().startswith("#") and "fork" in x.lower()]
        assert len(fork_lines) == 1 and "pyproject.toml" in fork_lines[0], path.name
        assert "ganlib.setup(" in first_code  # the rest of the cell is kept


def test_no_other_file_names_another_home():
    """Every github.com/<owner>/ganlib in the project's own files is the declared repository."""
    owner_name = sync_colab_cells.repository_url().removeprefix("https://github.com/")
    found = {}
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if (path.suffix not in {".py", ".md", ".toml", ".ipynb", ".txt", ".yml", ".cfg"} or not path.is_file()
                or any(p.startswith(".") or p in {"runs", "data", "build"} for p in parts[:-1])):
            continue
        for match in re.findall(r"github\.com/([\w.-]+/ganlib)(?![\w.-])", path.read_text(errors="replace")):
            found.setdefault(match, set()).add(str(path.relative_to(ROOT)))
    assert set(found) <= {owner_name}, {k: sorted(v) for k, v in found.items() if k != owner_name}


def test_a_fork_rewrites_only_the_badge_and_the_install_block(tmp_path, monkeypatch):
    original = NOTEBOOKS[0]
    copy = tmp_path / original.name
    shutil.copy(original, copy)
    fork = dict(sync_colab_cells.project())
    fork["urls"] = {"Repository": "https://github.com/someone/ganlib-fork.git"}
    monkeypatch.setattr(sync_colab_cells, "project", lambda: fork)
    monkeypatch.setattr(sync_colab_cells, "ROOT", tmp_path)

    assert sync_colab_cells.sync(check=True, paths=[copy]) == [f"{copy.name}: cells 0, 1"]
    assert json.loads(copy.read_text()) == json.loads(original.read_text())  # --check writes nothing
    sync_colab_cells.sync(check=False, paths=[copy])
    before, after = json.loads(original.read_text()), json.loads(copy.read_text())
    assert sync_colab_cells.sync(check=True, paths=[copy]) == []
    badge, install = "".join(after["cells"][0]["source"]), "".join(after["cells"][1]["source"])
    assert f"colab.research.google.com/github/someone/ganlib-fork/blob/main/notebooks/{copy.name})" in badge
    commit = before["metadata"]["ganlib"]["commit"]
    assert f'"ganlib @ git+https://github.com/someone/ganlib-fork@{commit}"' in install
    assert install.endswith("".join(before["cells"][1]["source"]).split("invalidate_caches()", 1)[1].split("\n", 1)[1])
    # nothing else moved: the other cells, their outputs and metadata, the notebook's metadata
    assert after["cells"][2:] == before["cells"][2:] and after["metadata"] == before["metadata"]
    assert after["cells"][1]["outputs"] == before["cells"][1]["outputs"]


def test_a_notebook_without_the_install_block_is_reported(tmp_path):
    notebook = json.loads(NOTEBOOKS[0].read_text())
    notebook["cells"][1]["source"] = ["import ganlib\n"]
    path = tmp_path / "99_broken.ipynb"
    path.write_text(json.dumps(notebook))
    with pytest.raises(ValueError, match="99_broken.ipynb.*Colab install block"):
        sync_colab_cells.sync(check=True, paths=[path])


def test_check_mode_exits_non_zero_when_they_disagree(tmp_path, monkeypatch, capsys):
    copy = tmp_path / NOTEBOOKS[0].name
    notebook = json.loads(NOTEBOOKS[0].read_text())
    sync_colab_cells.record_commit(notebook, "1" * 40)  # executed again: a new commit, the cell not yet synced
    copy.write_text(json.dumps(notebook))
    real = sync_colab_cells.project()
    monkeypatch.setattr(sync_colab_cells, "project", lambda: real)
    monkeypatch.setattr(sync_colab_cells, "ROOT", tmp_path)
    monkeypatch.setattr(sync_colab_cells, "NOTEBOOKS", tmp_path)
    assert sync_colab_cells.main(["--check"]) == 1
    assert copy.name in capsys.readouterr().out
    assert sync_colab_cells.main([]) == 0 and sync_colab_cells.main(["--check"]) == 0
    assert "@" + "1" * 40 in copy.read_text()
