#!/usr/bin/env python3
"""Install ganlib the way a notebook's first cell does, into a fresh environment that already has a
given TensorFlow stack (Colab's by default), and run the unit tests there. Not part of CI: one run
downloads the stack from PyPI and takes 10-20 minutes on 2 cores.

What it does, in order:
1. makes a virtual environment under /tmp (Python 3.13 where this machine has it, else the newest);
2. pre-installs the stack (TensorFlow, Keras, NumPy, plus pytest), as Colab's image has it;
3. installs ganlib with the `%pip install` line of notebook 00's first cell, its GitHub URL replaced by
   this repository as a local git URL (`git+file:///work/main@<commit>`, HEAD by default), so the
   dependency ranges of pyproject.toml are what pip resolves against the pre-installed stack;
4. checks that no pre-installed package was changed or removed (`pip freeze` before and after);
5. runs the unit tests of that commit against the installed ganlib (not the source tree), and with
   `--notebooks` also lessons 00 and 01 at the `quick` preset under nbval;
6. appends one JSON line per run to benchmarks/results/compat_stacks.jsonl and prints a table row.

Examples:
    nice -n 10 python scripts/check_colab_stack.py                        # Colab's stack
    nice -n 10 python scripts/check_colab_stack.py --tensorflow 2.19.1 --keras 3.8.0 --numpy 2.1.3
    nice -n 10 python scripts/check_colab_stack.py --tensorflow 2.16.2 --keras 3.3.3 --numpy 1.26.4 \\
        --python 3.12 --notebooks
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from sync_colab_cells import repository_url  # noqa: E402  (the one place the public home is read from)

# Google Colab's default runtime (../shared/ANCHORS.md, Aug 2026).
COLAB = {"python": "3.13", "tensorflow": "2.20.0", "keras": "3.13.2", "numpy": "2.1.3"}
RESULTS = ROOT / "benchmarks" / "results" / "compat_stacks.jsonl"
QUICK_NOTEBOOKS = ["notebooks/00_maths_minimax.ipynb", "notebooks/01_toy_gan_1d.ipynb"]


def find_python(wanted: str | None) -> str:
    """The interpreter for the environment: `wanted` (a path or "3.12"), else 3.13, else the newest found."""
    if wanted and os.path.sep in wanted:
        return wanted
    candidates = {}
    for path in glob.glob("/root/.pyenv/versions/3.*/bin/python3.*") + glob.glob("/usr/bin/python3.*") + \
            glob.glob("/usr/local/bin/python3.*"):
        match = re.fullmatch(r"python(3\.\d+)", os.path.basename(path))
        if match and os.access(path, os.X_OK):
            candidates.setdefault(match.group(1), path)
    for name in ("python3.13", "python3.12", "python3.11", "python3.10"):
        found = shutil.which(name)
        if found:
            candidates.setdefault(name[len("python"):], found)
    order = sorted(candidates, key=lambda v: tuple(int(x) for x in v.split(".")), reverse=True)
    choice = wanted or COLAB["python"]
    if choice in candidates:
        return candidates[choice]
    if wanted:
        raise SystemExit(f"--python {wanted}: not found on this machine (found {', '.join(order)})")
    return candidates[order[0]]


def run(command, log, check=True, **kwargs):
    print("+", " ".join(command), flush=True)
    started = time.time()
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)
    log.write(f"$ {' '.join(command)}\n{result.stdout}\n[exit {result.returncode}, {time.time() - started:.0f} s]\n")
    log.flush()
    if check and result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stdout[-3000:]}")
    return result


def freeze(python, log) -> dict[str, str]:
    out = run([python, "-m", "pip", "freeze", "--all"], log).stdout
    packages = {}
    for line in out.splitlines():
        if "==" in line:
            name, version = line.split("==", 1)
        elif " @ " in line:
            name, version = line.split(" @ ", 1)
        else:
            continue
        packages[name.strip().lower().replace("_", "-")] = version.strip()
    return packages


def first_cell_install_line(notebook: Path) -> str:
    """The `%pip install ...` line of the notebook's first code cell."""
    cells = json.loads(notebook.read_text())["cells"]
    code = next(c for c in cells if c["cell_type"] == "code")
    source = "".join(code["source"])
    line = next((x.strip() for x in source.splitlines() if x.strip().startswith("%pip install")), None)
    if line is None:
        raise SystemExit(f"{notebook.name}: no `%pip install` line in the first code cell")
    return line


def local_install_command(python: str, line: str, commit: str) -> list[str]:
    """Notebook 00's `%pip install` line with the public URL (and any @ref) replaced by this repository."""
    url = repository_url()
    pattern = re.escape("git+" + url) + r"(@[^\s\"']+)?"
    if not re.search(pattern, line):
        raise SystemExit(f"the first cell does not install from {url}: {line}")
    local = re.sub(pattern, f"git+file://{ROOT}@{commit}", line)
    words = shlex.split(local)[2:]  # drop "%pip install"
    return [python, "-m", "pip", "install", *words]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", help="interpreter version (3.12) or path; default 3.13 if available")
    parser.add_argument("--tensorflow", default=COLAB["tensorflow"])
    parser.add_argument("--keras", default=COLAB["keras"], help="'none': whatever TensorFlow pulls in")
    parser.add_argument("--numpy", default=COLAB["numpy"], help="'none': whatever TensorFlow pulls in")
    parser.add_argument("--extra", nargs="*", default=[], help="more pre-installed requirements")
    parser.add_argument("--ref", default="HEAD", help="git commit of this repository to install and test")
    parser.add_argument("--notebooks", action="store_true", help="also run lessons 00 and 01 at 'quick'")
    parser.add_argument("--pytest-args", default="", help="extra pytest arguments, e.g. '-k onednn tests/test_init.py'")
    parser.add_argument("--no-unit", action="store_true", help="skip the unit tests (with --notebooks: re-check them only)")
    parser.add_argument("--keep", action="store_true", help="keep the environment under /tmp")
    parser.add_argument("--venv", help="reuse the environment of an earlier --keep run (saves the stack's download)")
    parser.add_argument("--label", help="name of the stack in the table")
    parser.add_argument("--no-record", action="store_true", help="do not append to " + str(RESULTS.relative_to(ROOT)))
    parser.add_argument("--table", action="store_true", help="print the recorded runs as a Markdown table and exit")
    args = parser.parse_args(argv)
    if args.table:
        print(table())
        return 0

    python = find_python(args.python)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", args.ref], capture_output=True, text=True,
                            check=True).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="ganlib-colab-"))
    log_path = work / "log.txt"
    print(f"environment and log in {work}", flush=True)
    record = {"commit": commit[:10], "label": args.label, "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    with open(log_path, "w") as log:
        venv_python = str(work / "venv" / "bin" / "python")
        if args.venv:  # an environment a --keep run left: its stack is installed, ganlib is removed
            (work / "venv").symlink_to(Path(args.venv).resolve())
            run([venv_python, "-m", "pip", "uninstall", "-q", "-y", "ganlib"], log, check=False)
        else:
            run([python, "-m", "venv", str(work / "venv")], log)
            run([venv_python, "-m", "pip", "install", "-q", "--upgrade", "pip"], log)
        stack = [f"tensorflow=={args.tensorflow}"]
        stack += [f"keras=={args.keras}"] if args.keras != "none" else []
        stack += [f"numpy=={args.numpy}"] if args.numpy != "none" else []
        tools = ["pytest>=8"] + (["nbval>=0.11", "nbclient>=0.10", "ipykernel>=6"] if args.notebooks else [])
        run([venv_python, "-m", "pip", "install", "-q", *stack, *args.extra, *tools], log)
        before = freeze(venv_python, log)

        line = first_cell_install_line(ROOT / QUICK_NOTEBOOKS[0])
        run(local_install_command(venv_python, line, commit), log)
        after = freeze(venv_python, log)
        changed = {name: (version, after.get(name)) for name, version in before.items() if after.get(name) != version}
        added = sorted(f"{name}=={after[name]}" for name in after.keys() - before.keys() if name != "ganlib")
        record.update(python=run([venv_python, "-c", "import platform; print(platform.python_version())"],
                                 log).stdout.strip(),
                      tensorflow=after.get("tensorflow"), keras=after.get("keras"), numpy=after.get("numpy"),
                      preinstalled_changed=changed, added=added, install_line=line)
        print(f"pre-installed packages changed by the install: {changed or 'none'}")

        # The tests of the same commit, without the ganlib/ source folder, so they import the installed copy.
        source = work / "src"
        source.mkdir()
        archive = work / "src.tar"
        subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), commit], check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(source, filter="data") if sys.version_info >= (3, 12) else tar.extractall(source)
        shutil.rmtree(source / "ganlib")
        where = run([venv_python, "-c", "import ganlib; print('ganlib from', ganlib.__file__)"], log,
                    cwd=source).stdout
        assert re.search(r"^ganlib from \S+site-packages", where, flags=re.M), where[-2000:]
        environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0", MPLBACKEND="Agg")
        environment.pop("TF_ENABLE_ONEDNN_OPTS", None)
        extra = args.pytest_args.split() or ["tests"]
        if not args.no_unit:
            started = time.time()
            result = run([venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra], log, check=False,
                         cwd=source, env=environment)
            record["unit_seconds"] = round(time.time() - started)
            record["unit"] = summary(result.stdout)
            record["unit_failed"] = re.findall(r"^(?:FAILED|ERROR) (\S+)", result.stdout, flags=re.M)
        if args.notebooks:
            # The kernel picks its own (inline) backend, as in Colab and `make notebooks`: with Agg, plt.show()
            # shows nothing, and a `# NBVAL_CHECK_OUTPUT` cell that draws a figure loses its output.
            environment.pop("MPLBACKEND")
            environment["GANLIB_PRESET"] = "quick"
            started = time.time()
            result = run([venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                          "--nbval-current-env", "--nbval-cell-timeout=900", *QUICK_NOTEBOOKS], log, check=False,
                         cwd=source, env=environment)
            record["notebooks"] = summary(result.stdout)
            record["notebooks_seconds"] = round(time.time() - started)
            record["notebooks_failed"] = re.findall(r"^FAILED (\S+)", result.stdout, flags=re.M)
    record["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if not args.no_record:
        with open(RESULTS, "a") as out:
            out.write(json.dumps(record) + "\n")
    print(json.dumps(record, indent=1))
    if not args.keep:
        if not args.venv:
            shutil.rmtree(work / "venv", ignore_errors=True)
        shutil.rmtree(source, ignore_errors=True)
        archive.unlink(missing_ok=True)
        print(f"log kept: {log_path}")
    ok = not record["preinstalled_changed"] and record.get("unit", {}).get("failed", 0) == 0 and \
        record.get("unit", {}).get("errors", 0) == 0 and record.get("notebooks", {}).get("failed", 0) == 0
    return 0 if ok else 1


def table() -> str:
    """The runs recorded in compat_stacks.jsonl, one Markdown row each."""
    rows = ["| stack | Python | TensorFlow | Keras | NumPy | commit | pre-installed changed | unit tests | "
            "failed | notebooks 00, 01 (quick) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for line in RESULTS.read_text().splitlines():
        r = json.loads(line)
        unit = ", ".join(f"{n} {k}" for k, n in r.get("unit", {}).items()) or "did not run"
        unit += f" ({r['unit_seconds'] // 60} min)" if "unit_seconds" in r else ""
        notebooks = ", ".join(f"{n} {k}" for k, n in r["notebooks"].items()) if "notebooks" in r else "not run"
        failed = "<br>".join(x.replace("tests/", "") for x in r.get("unit_failed", []) + r.get("notebooks_failed", []))
        rows.append(f"| {r.get('label') or ''} | {r.get('python')} | {r.get('tensorflow')} | {r.get('keras')} | "
                    f"{r.get('numpy')} | {r.get('commit')} | {r.get('preinstalled_changed') or 'none'} | {unit} "
                    f"| {failed or '-'} | {notebooks} |")
    return "\n".join(rows)


def summary(output: str) -> dict:
    """pytest's closing counts: {'passed': 500, 'failed': 2, ...}."""
    last = [x for x in output.splitlines() if re.search(r"\d+ (passed|failed|error)", x)]
    counts = {}
    if last:
        for number, word in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)", last[-1]):
            counts["errors" if word.startswith("error") else word] = int(number)
    return counts


if __name__ == "__main__":
    sys.exit(main())
