#!/usr/bin/env python3
"""Make the lessons keep their runs (and downloaded archives) on Google Drive in Colab.

A one-off edit of notebook cell *sources* (outputs, metadata and every other cell untouched):

* every lesson that writes ``runs/`` (01-07) gets two lines in its parameters cell, right
  after ``PRESET = ganlib.preset()``: ``USE_DRIVE = True`` and
  ``RUNS = ganlib.colab_storage(drive=USE_DRIVE)``, and every run folder written literally in a
  code cell is built from ``RUNS`` instead (``RUN_LITERALS``; outside Colab ``RUNS`` is
  ``Path('runs')``, so paths and outputs stay what they were);
* lesson 02 says so in its parameters text and in "Saving the networks for lesson 05" (no copying
  to Drive by hand);
* lesson 05 finds lesson 02's run in ``RUN_02 = f"{RUNS}/02_dcgan_faces"`` (Drive in Colab),
  unpacks CelebA only from what lesson 02 left (never downloads it), and otherwise falls back
  to its own small GAN with one line saying why.

Each edit names a text that identifies its cell (it must be in exactly one cell), the text to
replace (exactly once in that cell) and its replacement. An edit whose replacement is already
there is skipped, so running the script twice changes nothing; an edit whose cell or text is
not found stops the script before anything is written, naming the notebook and the edit.

    python scripts/_apply_drive_cells.py              # edit notebooks/ in place
    python scripts/_apply_drive_cells.py --dir DIR    # edit the notebooks in DIR (a copy)
    python scripts/_apply_drive_cells.py --check      # say what would change; write nothing
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Edit:
    cell: str  # a text found in exactly one cell of the notebook
    old: str   # replaced, exactly once in that cell
    new: str   # by this; already present: the edit was applied before


PRESET_LINE = "PRESET = ganlib.preset()\n"
DRIVE_LINES = (
    "USE_DRIVE = True  # Colab: keep runs and downloaded archives on your Google Drive (Colab asks first)\n"
    "RUNS = ganlib.colab_storage(drive=USE_DRIVE)  # where runs go: runs/, or in Colab MyDrive/ganlib/runs on Drive\n"
)
USE_DRIVE = Edit(PRESET_LINE, PRESET_LINE, PRESET_LINE + DRIVE_LINES)


#: Run folders written literally in code cells, each made a folder of RUNS (every code cell of
#: the lessons, whatever else changed there): Path("runs/x") -> Path(RUNS, "x"),
#: os.path.join("runs", ...) -> os.path.join(RUNS, ...), "runs/x" -> f"{RUNS}/x" (a whole
#: string literal only: f-strings and longer texts are left alone).
RUN_LITERALS = (
    (re.compile(r"""\bPath\((["'])(?:\./)?runs/([^"'{}\s]+)\1\)"""), r"Path(RUNS, \1\2\1)"),
    (re.compile(r"""\bos\.path\.join\((["'])(?:\./)?runs\1,"""), "os.path.join(RUNS,"),
    (re.compile(r"""(?<![\w{])(["'])(?:\./)?runs/([^"'{}\s]+)\1"""), r"f\1{RUNS}/\2\1"),
)


# --- lesson 02 -------------------------------------------------------------------------------
L02_PARAMETERS_TEXT = Edit(
    "`RESUME = False` (the default) starts a fresh run",
    "total of the run, so a finished run with the same `EPOCHS` has nothing left to do.",
    "total of the run, so a finished run with the same `EPOCHS` has nothing left to do.\n"
    "\n"
    "In Colab, `USE_DRIVE = True` (the default) mounts your Google Drive (Colab asks for permission) and\n"
    "puts `RUN_DIR` in `MyDrive/ganlib/runs/`, and CelebA's archive (one file of 1.4 GB) in\n"
    "`MyDrive/ganlib/data/`; its images are unpacked onto the Colab machine in each session. If Colab\n"
    "disconnects, the run is still on your Drive: set `RESUME = True` and run all cells again (`RESUME =\n"
    "False` would delete its checkpoints), and training goes on from the last checkpoint, losing only the\n"
    "steps since then. Lesson 05 finds the networks there. `USE_DRIVE = False` keeps everything on the\n"
    "Colab machine, which forgets it when the runtime ends.",
)
L02_SECTION_10 = Edit(
    "Saving the networks for lesson 05",
    "In Colab every notebook runs on its own machine, so lesson 05 will not find `RUN_DIR` there: to use "
    "this generator in lesson 05, mount your Google Drive and copy the run folder to "
    "`/content/drive/MyDrive/ganlib/02_dcgan_faces` (lesson 05's `DRIVE_FOLDER`) after the next cell, with "
    "`from google.colab import drive; drive.mount(\"/content/drive\")` and `import shutil; "
    "shutil.copytree(RUN_DIR, \"/content/drive/MyDrive/ganlib/02_dcgan_faces\", dirs_exist_ok=True)`. "
    "Without it, lesson 05 trains a small generator of its own on the offline LFW faces.",
    "In Colab every notebook runs on a machine of its own. With `USE_DRIVE = True` (the default) `RUN_DIR`\n"
    "is on your Google Drive, `MyDrive/ganlib/runs/02_dcgan_faces`, where lesson 05 looks for it (its\n"
    "`RUN_02`), and a CelebA run's archive is in `MyDrive/ganlib/data/`. Without Drive, lesson 05 trains a\n"
    "small generator of its own on the offline LFW faces.",
)

# --- lesson 05 -------------------------------------------------------------------------------
L05_PARAMETERS = Edit(
    PRESET_LINE,
    'RUN_02 = "runs/02_dcgan_faces"                                # where lesson 02 saves its networks\n'
    'DRIVE_FOLDER = "/content/drive/MyDrive/ganlib/02_dcgan_faces"  # Colab: lesson 02\'s run folder copied to Google Drive\n',
    'RUN_02 = f"{RUNS}/02_dcgan_faces"                             # where lesson 02 saves its networks (Drive in Colab)\n',
)
L05_TEXT = Edit(
    "The GAN from lesson 02, and faces it has never seen",
    "Lesson 02 saves its trained networks in `runs/02_dcgan_faces/` (`RUN_02`). We load both: the generator\n"
    "proposes faces, the discriminator supplies the perceptual loss. The notebook looks in three places, in\n"
    "order, and prints which one it used:\n"
    "\n"
    "1. `RUN_02` on this machine: lesson 02 ran here before (`make run` runs the lessons in order).\n"
    "2. `DRIVE_FOLDER` on Google Drive, in Colab. Each Colab notebook runs on its own machine, so lesson\n"
    "   02's run folder is not there. Copy it to your Drive at the end of lesson 02 (its section 10 shows\n"
    "   the two lines); this notebook then mounts your Drive (Colab asks for permission) and loads it.\n"
    "3. Neither: the notebook trains its own small DCGAN two cells below, with lesson 02's `cpu` recipe on\n"
    "   the same 100 offline LFW faces, for `TRAIN_CPU_SECONDS` of CPU time. It downloads nothing, at the\n"
    "   `gpu` preset too (CelebA, 1.4 GB, is lesson 02's download, not this lesson's). The generator will be\n"
    "   weaker than lesson 02's, and so will the completions.\n",
    "Lesson 02 saves its trained networks in `RUN_02`: `runs/02_dcgan_faces/` on this machine, or, in Colab\n"
    "with `USE_DRIVE = True` (the default of both lessons), `MyDrive/ganlib/runs/02_dcgan_faces/` on your\n"
    "Google Drive, since each Colab notebook runs on a machine of its own. We load both: the generator\n"
    "proposes faces, the discriminator supplies the perceptual loss. The cell below prints which GAN it uses:\n"
    "\n"
    "1. Lesson 02's, when `RUN_02` holds its networks from the same preset. If they were trained on\n"
    "   CelebA, the held-out faces are CelebA's: unpacked on this machine already, or unpacked now from the\n"
    "   archive lesson 02 kept on your Drive. This lesson never downloads CelebA (1.4 GB).\n"
    "2. Otherwise (no run there, a run of another preset, or CelebA neither here nor on Drive; one line says\n"
    "   which), the notebook trains its own small DCGAN two cells below, with lesson 02's `cpu` recipe on\n"
    "   the same 100 offline LFW faces, for `TRAIN_CPU_SECONDS` of CPU time. It downloads nothing, at the\n"
    "   `gpu` preset too. The generator will be weaker than lesson 02's, and so will the completions.\n",
)
L05_FIND_RUN = Edit(
    "def has_networks(folder):",
    'IN_COLAB = "google.colab" in sys.modules\n'
    "\n"
    "\n"
    "def has_networks(folder):\n"
    '    return folder is not None and (folder / "generator.keras").exists() and (folder / "discriminator.keras").exists()\n'
    "\n"
    "\n"
    "RUN_02 = Path(RUN_02)\n"
    "drive_folder = Path(DRIVE_FOLDER) if DRIVE_FOLDER else None\n"
    'if IN_COLAB and drive_folder is not None and not has_networks(RUN_02) and not Path("/content/drive/MyDrive").exists():\n'
    "    try:  # Colab asks for permission; decline and the notebook trains its own GAN instead\n"
    "        from google.colab import drive\n"
    '        drive.mount("/content/drive")\n'
    "    except Exception as error:\n"
    '        print(f"Google Drive not mounted ({type(error).__name__}: {error}).")\n'
    "def same_preset(folder):  # `make test` runs lesson 02 at 'quick' in the same folder: not a GAN for 'cpu'\n"
    '    config = folder / "config.json"\n'
    '    return not config.exists() or json.loads(config.read_text()).get("preset", PRESET) == PRESET\n'
    "\n"
    "\n"
    "folder = next((place for place in (RUN_02, drive_folder) if has_networks(place) and same_preset(place)), None)\n"
    "\n"
    "if folder is not None:\n"
    '    generator = keras.models.load_model(folder / "generator.keras")\n'
    '    discriminator = keras.models.load_model(folder / "discriminator.keras")\n'
    '    settings = json.loads((folder / "config.json").read_text()) if (folder / "config.json").exists() else {}\n'
    "    source_of_gan = \"lesson 02's GAN\"\n"
    "    print(f\"Using the GAN trained in lesson 02, from {folder}/ (generator.keras and discriminator.keras; \"\n"
    "          f\"trained for {settings.get('steps', '?')} steps at preset {settings.get('preset', '?')!r}).\")\n"
    '    if settings.get("source") == "celeba":\n'
    "        print(\"It was trained on CelebA, so the held-out faces below are CelebA's: load_faces reads them from \"\n"
    '              "data/, downloading CelebA (1.4 GB) first if it is not there.")\n'
    "else:\n"
    "    generator = discriminator = None\n"
    '    settings = {"image_size": 32, "channels": 1, "source": "lfw", "held_out": 20, "split_seed": 0}  # lesson 02\'s cpu preset\n'
    '    source_of_gan = f"a DCGAN trained here for {TRAIN_CPU_SECONDS} CPU s"\n'
    "    print(f\"Lesson 02's networks are not in {RUN_02}/\" + (f\" nor in DRIVE_FOLDER ({drive_folder}/)\" if IN_COLAB else \"\")\n"
    '          + f": this notebook trains its own DCGAN below, with lesson 02\'s recipe on the 100 offline LFW faces "\n'
    '          f"(32x32 grey), for {TRAIN_CPU_SECONDS} CPU seconds.")\n'
    '    if PRESET == "gpu":\n'
    '        print("Nothing is downloaded: CelebA (1.4 GB) is lesson 02\'s download. For completions of CelebA faces, run "\n'
    '              "lesson 02 at the gpu preset, copy its run folder to DRIVE_FOLDER, and run this notebook again.")\n',
    "def has_networks(folder):\n"
    '    return (folder / "generator.keras").exists() and (folder / "discriminator.keras").exists()\n'
    "\n"
    "\n"
    "def same_preset(folder):  # `make test` runs lesson 02 at 'quick' in the same folder: not a GAN for 'cpu'\n"
    '    config = folder / "config.json"\n'
    '    return not config.exists() or json.loads(config.read_text()).get("preset", PRESET) == PRESET\n'
    "\n"
    "\n"
    "RUN_02 = Path(RUN_02)\n"
    "from_lesson_02 = has_networks(RUN_02) and same_preset(RUN_02)\n"
    'settings = json.loads((RUN_02 / "config.json").read_text()) if from_lesson_02 and (RUN_02 / "config.json").exists() else {}\n'
    "fallback = (f\"this notebook trains its own DCGAN below with lesson 02's recipe on the 100 offline LFW faces \"\n"
    '            f"(32x32 grey), for {TRAIN_CPU_SECONDS} CPU seconds; nothing is downloaded.")\n'
    "if not from_lesson_02:\n"
    "    print(f\"Lesson 02's networks (preset {PRESET!r}) are not in {RUN_02}/: {fallback}\")\n"
    'elif settings.get("source") == "celeba":  # held-out faces from CelebA: as lesson 02 left it, never downloaded here\n'
    "    try:  # unpacked on this machine, or its archive kept on Drive (unpacked now)\n"
    "        data.faces.fetch_celeba(sources=())\n"
    "    except data.faces.CelebAUnavailable as error:\n"
    "        from_lesson_02 = False\n"
    "        print(f\"Lesson 02's GAN in {RUN_02}/ was trained on CelebA, which is not available ({error.summary}): {fallback}\")\n"
    "\n"
    "if from_lesson_02:\n"
    '    generator = keras.models.load_model(RUN_02 / "generator.keras")\n'
    '    discriminator = keras.models.load_model(RUN_02 / "discriminator.keras")\n'
    "    source_of_gan = \"lesson 02's GAN\"\n"
    "    print(f\"Using the GAN trained in lesson 02, from {RUN_02}/ (generator.keras and discriminator.keras; \"\n"
    "          f\"trained for {settings.get('steps', '?')} steps at preset {settings.get('preset', '?')!r}).\")\n"
    "else:\n"
    "    generator = discriminator = None\n"
    '    settings = {"image_size": 32, "channels": 1, "source": "lfw", "held_out": 20, "split_seed": 0}  # lesson 02\'s cpu preset\n'
    '    source_of_gan = f"a DCGAN trained here for {TRAIN_CPU_SECONDS} CPU s"\n',
)

#: The edits of each lesson, in order; then RUN_LITERALS in every code cell of these lessons.
EDITS = {
    "01_toy_gan_1d.ipynb": [USE_DRIVE],
    "02_dcgan_faces.ipynb": [USE_DRIVE, L02_PARAMETERS_TEXT, L02_SECTION_10],
    "03_pokemon_gan.ipynb": [USE_DRIVE],
    "04_wgan_gp.ipynb": [USE_DRIVE],
    "05_inpainting.ipynb": [USE_DRIVE, L05_PARAMETERS, L05_TEXT, L05_FIND_RUN],
    "06_conditional_gan.ipynb": [USE_DRIVE],
    "07_your_own_images.ipynb": [USE_DRIVE],
}

#: What no code cell may still hold once the edits are in: a run folder written literally, the
#: old Drive folder of lesson 05.
LEFTOVERS = re.compile(r"""["'](?:\./)?runs/|\(\s*["'](?:\./)?runs["']|DRIVE_FOLDER|/content/drive""")


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _set_source(cell, text: str):
    cell["source"] = text.splitlines(keepends=True)  # nbformat's layout: one string per line


class EditError(Exception):
    pass


def apply(notebook: dict, edits, name: str) -> list[str]:
    """Apply ``edits`` to ``notebook`` (in memory); return what changed, one line per edit."""
    done = []
    for number, edit in enumerate(edits, 1):
        if any(edit.new in _source(cell) for cell in notebook["cells"]):
            continue  # applied before (the identifying text may have gone with it)
        cells = [cell for cell in notebook["cells"] if edit.cell in _source(cell)]
        if len(cells) != 1:
            raise EditError(f"{name}, edit {number}: {len(cells)} cells contain {edit.cell[:60]!r} (need exactly 1)")
        cell = cells[0]
        text = _source(cell)
        count = text.count(edit.old)
        if count != 1:
            raise EditError(f"{name}, edit {number}: the cell containing {edit.cell[:60]!r} holds "
                            f"{edit.old[:60]!r} {count} times (need exactly 1); was it edited since?")
        _set_source(cell, text.replace(edit.old, edit.new))
        done.append(f"{name}: edit {number} applied ({edit.old.splitlines()[0][:60]!r} ...)")
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        text = _source(cell)
        for pattern, replacement in RUN_LITERALS:
            text = pattern.sub(replacement, text)
        if text != _source(cell):
            changed = [line.strip() for line in text.splitlines() if "RUNS" in line and line not in _source(cell)]
            _set_source(cell, text)
            done.append(f"{name}: cell {index}: " + " | ".join(changed))
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code" and LEFTOVERS.search(_source(cell)):
            raise EditError(f"{name}, cell {index}: still holds {LEFTOVERS.search(_source(cell)).group(0)!r} "
                            "(a run folder outside RUNS, or lesson 05's old Drive folder)")
    return done


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=ROOT / "notebooks", help="the folder of the notebooks")
    parser.add_argument("--check", action="store_true", help="say what would change, write nothing")
    args = parser.parse_args(argv)
    changed, report = {}, []
    try:  # every notebook is edited in memory first: nothing is written unless all edits apply
        for name, edits in EDITS.items():
            path = args.dir / name
            if not path.exists():
                raise EditError(f"{path} does not exist")
            notebook = json.loads(path.read_text(encoding="utf-8"))
            done = apply(notebook, edits, name)
            report += done
            if done:
                changed[path] = notebook
    except EditError as error:
        print(f"error: {error}; nothing was written.", file=sys.stderr)
        return 1
    for line in report:
        print(line)
    if not args.check:
        for path, notebook in changed.items():
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    verb = "would change" if args.check else "changed"
    print(f"{len(changed)} notebook(s) {verb}" + (": " + ", ".join(p.name for p in changed) if changed else
                                                 " (every edit was already in)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
