#!/usr/bin/env python3
"""Derive every notebook's "Open in Colab" badge and Colab install cell from pyproject.toml and
from the commit each notebook's outputs were made with.

The project's public home is declared once, as `Repository` in `[project.urls]` of pyproject.toml.
`scripts/run_notebooks.py` records in each notebook's metadata (`metadata.ganlib.commit`) the commit
of the repository it executed the notebook with (when ganlib/ and pyproject.toml had no uncommitted
changes). From these this script writes, in each notebooks/NN_*.ipynb:
- the badge in the first (markdown) cell:
  https://colab.research.google.com/github/OWNER/NAME/blob/main/notebooks/NN_name.ipynb
- the Colab block at the top of the first code cell, which installs that commit
  (`git+https://github.com/OWNER/NAME@<commit>`): the code the committed outputs were made with,
  and stops the notebook with one line naming pip's error if the install fails.

    python scripts/sync_colab_cells.py          # rewrite what disagrees (only those two cells)
    python scripts/sync_colab_cells.py --check  # exit 1 and list what disagrees; write nothing

A fork changes `Repository` (and `Homepage`, `Issues`) in pyproject.toml and runs this script (and
pushes the commits the notebooks pin). tests/test_project_urls.py checks that every pinned commit
is in the repository's history.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as tomli or inside pip
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        from pip._vendor import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BRANCH = "main"  # the branch the badges open (the lessons as last executed)
BADGE = re.compile(r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]"
                   r"\(https://colab\.research\.google\.com/github/[^)\s]*\)")
# The Colab block: `import sys` and the indented body of `if "google.colab" ...` (the rest of the
# cell, from its first unindented line on, is kept).
COLAB_BLOCK = re.compile(r"\Aimport sys\nif \"google\.colab\" in sys\.modules:[^\n]*\n(?:[ \t]+[^\n]*\n)+")


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def repository_url() -> str:
    """`Repository` of [project.urls], without a trailing slash or .git (https://github.com/OWNER/NAME)."""
    url = project()["urls"]["Repository"].rstrip("/")
    return url[:-4] if url.endswith(".git") else url


def install_ref(notebook: dict, name: str = "the notebook") -> str:
    """The commit the install cell pins: the one the notebook was executed with (its metadata)."""
    commit = notebook.get("metadata", {}).get("ganlib", {}).get("commit")
    if not (isinstance(commit, str) and re.fullmatch(r"[0-9a-f]{40}", commit)):
        raise ValueError(f"{name}: its metadata records no ganlib commit (metadata.ganlib.commit); execute it "
                         "with scripts/run_notebooks.py from a clean checkout, which records it")
    return commit


def badge(notebook_name: str) -> str:
    owner_name = re.sub(r"^https://github\.com/", "", repository_url())
    return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{owner_name}/blob/{BRANCH}/notebooks/{notebook_name})")


def colab_block(ref: str) -> str:
    install = f"ganlib @ git+{repository_url()}@{ref}"
    return (
        "import sys\n"
        "if \"google.colab\" in sys.modules:  # Colab: install the ganlib these outputs were made with\n"
        "    # A fork: set Repository in pyproject.toml's [project.urls], then run scripts/sync_colab_cells.py\n"
        "    import importlib, subprocess\n"
        f"    pip = subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\", \"{install}\"],\n"
        "                         capture_output=True, text=True)\n"
        "    if pip.returncode:  # stop here, with pip's own last line, not at the import below\n"
        "        raise SystemExit(\"Installing ganlib failed: \" + (pip.stderr.strip().splitlines() or [\"(no message)\"])[-1]\n"
        "                         + \" (README: Troubleshooting, 'the first cell stops')\")\n"
        "    importlib.invalidate_caches()  # the package pip just wrote is importable in this kernel\n"
    )


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _set_source(cell, text: str) -> None:
    cell["source"] = text.splitlines(keepends=True)


def expected_cells(path: Path, notebook: dict) -> list[tuple[int, str, str]]:
    """(cell index, current source, expected source) of the badge cell and the first code cell."""
    cells = notebook["cells"]
    problems = []
    if not cells or cells[0]["cell_type"] != "markdown" or not BADGE.search(_source(cells[0])):
        raise ValueError(f"{path.name}: the first cell has no Open In Colab badge to rewrite")
    current = _source(cells[0])
    problems.append((0, current, BADGE.sub(lambda _: badge(path.name), current, count=1)))
    index = next(i for i, c in enumerate(cells) if c["cell_type"] == "code")
    current = _source(cells[index])
    if not COLAB_BLOCK.search(current):
        raise ValueError(f"{path.name}: the first code cell does not start with the Colab install block")
    ref = install_ref(notebook, path.name)
    problems.append((index, current, COLAB_BLOCK.sub(lambda _: colab_block(ref), current, count=1)))
    return problems


def record_commit(notebook: dict, commit: str) -> None:
    """Record in ``notebook``'s metadata the commit it was executed with (scripts/run_notebooks.py)."""
    notebook.setdefault("metadata", {}).setdefault("ganlib", {})["commit"] = commit


def sync(check: bool, paths=None) -> list[str]:
    """Rewrite (or with check=True only list) the notebooks whose badge or install block disagree."""
    disagreeing = []
    for path in paths or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        text = path.read_text()  # read right before writing: others edit other cells of these files
        notebook = json.loads(text)
        changes = [(i, new) for i, old, new in expected_cells(path, notebook) if old != new]
        if not changes:
            continue
        disagreeing.append(f"{path.relative_to(ROOT)}: cell{'s' if len(changes) > 1 else ''} "
                           f"{', '.join(str(i) for i, _ in changes)}")
        if check:
            continue
        for index, new in changes:
            _set_source(notebook["cells"][index], new)
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")  # nbformat's layout
    return disagreeing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Derive the Colab badges and install cells from pyproject.toml.")
    parser.add_argument("--check", action="store_true", help="only report disagreements (exit 1 if any)")
    args = parser.parse_args(argv)
    disagreeing = sync(check=args.check)
    for line in disagreeing:
        print(("disagrees with pyproject.toml: " if args.check else "rewritten: ") + line)
    if args.check and disagreeing:
        print(f"run: python scripts/sync_colab_cells.py  (Repository {repository_url()})")
        return 1
    if not disagreeing:
        print(f"all notebooks agree with pyproject.toml ({repository_url()}) and their recorded commits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
