"""Write the `gpu` budgets of lessons 03-07 into the notebooks' cell sources (one-off; outputs untouched).

    .venv/bin/python scripts/_apply_budget_cells.py [NOTEBOOK_FOLDER]   # default: notebooks/

At `gpu` the lessons count their budgets in training steps, not CPU seconds (lesson 07 already
counts wall-clock seconds), with sizes that fit a Colab T4 in under about an hour each. The
values come from ``scripts/gpu_estimates.py`` (``GPU``), the expected T4 times from the
document it writes, ``docs/gpu_estimates.md`` (run it first). The ``quick`` and ``cpu`` values
stay as they are, and every line printed at those presets stays the same, so the committed
outputs stay valid.

Each edit finds its cell by a text that must occur in exactly one cell, and replaces one
exact text in it; it fails loudly (naming the notebook and the text) when the cell or the text
is not found. Run twice, it changes nothing the second time: an edit whose new text is already
there is skipped. Only cell sources change (and lesson 05 gets one new markdown cell, its
"What to expect at `gpu`"); outputs, metadata and every other cell stay as they are. Lesson
02's parameters cell is not touched (its new two-recipe run is written by hand); only its
"What to expect at `gpu`" cell is.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from gpu_estimates import GPU, UTILISATION_FP32  # noqa: E402  (the one place the gpu values live)

EXPECT = "**What to expect at `gpu` (Colab, not yet run on a GPU).**"
HOW = (f"The estimate comes from the floating-point operations of one step, counted by TensorFlow's "
       f"profiler, at an assumed {UTILISATION_FP32:.0%} of a T4's float32 peak plus an assumed overhead per step; "
       "`docs/gpu_estimates.md` gives the table, the assumptions and what they cannot know.")


class PatchError(RuntimeError):
    """A cell or a text to replace was not found (or not only once)."""


def lesson_lines(doc=ROOT / "docs" / "gpu_estimates.md") -> dict:
    """Each lesson's line of ``docs/gpu_estimates.md`` without its "Lesson NN at `gpu` (...): "."""
    lines = {}
    for match in re.finditer(r"^- Lesson (\d\d) at `gpu` \(not yet run on a GPU\): (.+)$",
                             Path(doc).read_text(encoding="utf-8"), re.MULTILINE):
        text = match.group(2)
        lines[match.group(1)] = text[0].upper() + text[1:]
    for lesson in ("02", "03", "04", "05", "06", "07"):
        if lesson not in lines:
            raise PatchError(f"{doc} has no line for lesson {lesson}: run scripts/gpu_estimates.py first.")
    return lines


def _source(cell) -> str:
    return "".join(cell["source"])


def _set_source(cell, text: str):
    cell["source"] = text.splitlines(keepends=True)


def find_cell(notebook, marker: str, name: str):
    """The one cell whose source contains ``marker``."""
    cells = [cell for cell in notebook["cells"] if marker in _source(cell)]
    if len(cells) != 1:
        raise PatchError(f"{name}: {len(cells)} cells contain {marker!r}; expected exactly one.")
    return cells[0]


def replace(notebook, name: str, marker: str, old: str, new: str) -> bool:
    """In the cell that contains ``marker``, ``old`` -> ``new`` (once). False when already done."""
    cell = find_cell(notebook, marker, name)
    text = _source(cell)
    if new in text and (old not in text or old in new):
        return False
    if text.count(old) != 1:
        raise PatchError(f"{name}: the cell with {marker!r} contains {old!r} {text.count(old)} times; expected once.")
    _set_source(cell, text.replace(old, new))
    return True


def set_cell(notebook, name: str, marker: str, new: str) -> bool:
    """The whole source of the cell that contains ``marker`` becomes ``new``."""
    cell = find_cell(notebook, marker, name)
    if _source(cell) == new:
        return False
    _set_source(cell, new)
    return True


def insert_after_parameters(notebook, name: str, marker: str, new: str, cell_id: str) -> bool:
    """A markdown cell ``new`` right after the cell tagged ``parameters``, unless a cell with
    ``marker`` exists (then its source becomes ``new``)."""
    if any(marker in _source(cell) for cell in notebook["cells"]):
        return set_cell(notebook, name, marker, new)
    tagged = [cell for cell in notebook["cells"] if "parameters" in cell.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise PatchError(f"{name}: {len(tagged)} cells tagged 'parameters'; expected exactly one.")
    if any(cell.get("id") == cell_id for cell in notebook["cells"]):
        raise PatchError(f"{name}: a cell with id {cell_id!r} exists but does not contain {marker!r}.")
    index = notebook["cells"].index(tagged[0])
    cell = {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": []}
    _set_source(cell, new)
    notebook["cells"].insert(index + 1, cell)
    return True


def _steps_of(line: str) -> str:
    """"about N steps of M ms" from lesson 07's line (a wall-clock budget: the steps are the estimate)."""
    match = re.search(r"about [\d,]+ steps of \d+ ms", line)
    if match is None:
        raise PatchError(f"lesson 07's line in docs/gpu_estimates.md has no 'about N steps of M ms': {line!r}")
    return match.group(0)


def expect(line: str, budget: str) -> str:
    return f"{EXPECT} {line} {budget} {HOW}"


def edits(lines: dict) -> dict:
    """notebook file name -> list of (function, arguments) edits, in order."""
    g3, g4, g5, g6, g7 = GPU["03"], GPU["04"], GPU["05"], GPU["06"], GPU["07"]
    params = "PRESET = ganlib.preset()"
    return {
        "02_dcgan_faces.ipynb": [
            (set_cell, EXPECT, expect(lines["02"], "At `gpu` the budget is epochs of CelebA, not CPU seconds.")),
        ],
        "03_pokemon_gan.ipynb": [
            (replace, params,
             "CPU_SECONDS = {'quick': 3, 'cpu': 50, 'gpu': 1200}[PRESET]\n",
             "CPU_SECONDS = {'quick': 3, 'cpu': 50, 'gpu': None}[PRESET]\n"
             "# At 'gpu' the budget is training steps instead (a GPU's work is not the host's CPU time): STEPS per\n"
             "# recipe (one D and one G update each, the same arithmetic for every recipe), and the classic\n"
             "# model CLASSIC_ITERATIONS iterations of its schedule, the arithmetic of STEPS recipe steps\n"
             f"STEPS = {{'quick': None, 'cpu': None, 'gpu': {g3['STEPS']}}}[PRESET]\n"
             f"CLASSIC_ITERATIONS = {{'quick': None, 'cpu': None, 'gpu': {g3['CLASSIC_ITERATIONS']}}}[PRESET]\n"
             "BUDGET = f\"{STEPS:,} steps\" if STEPS else f\"{CPU_SECONDS} CPU s\"\n"),
            (replace, params,
             "MORE_CPU_SECONDS = {'quick': 3, 'cpu': 180, 'gpu': 3600}[PRESET]  # then the table's best recipe trains on\n",
             "MORE_CPU_SECONDS = {'quick': 3, 'cpu': 180, 'gpu': None}[PRESET]  # then the table's best recipe trains on\n"
             f"MORE_STEPS = {{'quick': None, 'cpu': None, 'gpu': {g3['MORE_STEPS']}}}[PRESET]  # (at 'gpu': steps)\n"
             "MORE_BUDGET = f\"{MORE_STEPS:,} steps\" if MORE_STEPS else f\"{MORE_CPU_SECONDS} CPU s\"\n"),
            (replace, params,
             "every model trains {CPU_SECONDS} CPU s; \"\n      f\"then the best recipe trains {MORE_CPU_SECONDS} CPU s more\")",
             "every model trains {BUDGET}; \"\n      f\"then the best recipe trains {MORE_BUDGET} more\")"),
            (set_cell, EXPECT, expect(lines["03"], (
                f"At `gpu` every budget is a number of steps, not CPU seconds: each recipe trains `STEPS` "
                f"({g3['STEPS']:,}; their steps cost the same arithmetic), the classic model `CLASSIC_ITERATIONS` "
                f"({g3['CLASSIC_ITERATIONS']:,}) iterations of its schedule, the same arithmetic, and the best recipe "
                f"`MORE_STEPS` ({g3['MORE_STEPS']:,}) more: \"the same CPU time\" below reads \"the same arithmetic\" "
                "there.")),
             ),
            (replace, "from ganlib.callbacks import ",
             "from ganlib.callbacks import CPUTimeBudget", "from ganlib.callbacks import TrainingBudget"),
            (replace, "classic_gan = classic.ClassicGAN(",
             "while time.process_time() - cpu_start < CPU_SECONDS:\n"
             "    classic_history = classic_gan.train(1, report_every=2)  # reports every 2nd iteration; calls continue the run\n",
             "if CLASSIC_ITERATIONS:  # gpu: iterations, not CPU time; a report every 25th (the post's), not printed\n"
             "    classic_history = classic_gan.train(CLASSIC_ITERATIONS, report_every=25, verbose=False)\n"
             "while not CLASSIC_ITERATIONS and time.process_time() - cpu_start < CPU_SECONDS:\n"
             "    classic_history = classic_gan.train(1, report_every=2)  # reports every 2nd iteration; calls continue the run\n"),
            (replace, "runs[name] = recipes.train_for_cpu_seconds(",
             "recipes.train_for_cpu_seconds(name, train_rgb, CPU_SECONDS, batch_size=BATCH_SIZE,",
             "recipes.train_for_cpu_seconds(name, train_rgb, CPU_SECONDS, steps=STEPS, batch_size=BATCH_SIZE,"),
            (replace, "final = runs[FINAL_RECIPE]",
             "more = CPUTimeBudget(MORE_CPU_SECONDS)", "more = TrainingBudget(MORE_CPU_SECONDS, MORE_STEPS)"),
            (replace, "final = runs[FINAL_RECIPE]",
             "(f'{FINAL_RECIPE} at {CPU_SECONDS} CPU s', table[FINAL_RECIPE]),\n"
             "                   (f'{FINAL_RECIPE} at {final[\"cpu_seconds\"] + more.spent:.0f} CPU s', final_row),",
             "(f'{FINAL_RECIPE} at {BUDGET}', table[FINAL_RECIPE]),\n"
             "                   (f'{FINAL_RECIPE} at ' + (f'{history[\"step\"][-1]:,} steps' if STEPS else\n"
             "                                             f'{final[\"cpu_seconds\"] + more.spent:.0f} CPU s'), final_row),"),
        ],
        "04_wgan_gp.ipynb": [
            (replace, params,
             'IMAGE_CPU_SECONDS = {"quick": 6, "cpu": 60, "gpu": 1800}[PRESET]   # CPU time per image model and seed\n',
             'IMAGE_CPU_SECONDS = {"quick": 6, "cpu": 60, "gpu": None}[PRESET]   # CPU time per image model and seed\n'
             f'IMAGE_STEPS = {{"quick": None, "cpu": None, "gpu": {g4["IMAGE_STEPS"]}}}[PRESET]  # at gpu: training '
             'steps instead (a GPU\'s work is not CPU time)\n'
             'IMAGE_BUDGET = f"{IMAGE_STEPS:,} steps" if IMAGE_STEPS else f"{IMAGE_CPU_SECONDS} CPU s"\n'),
            (replace, params,
             'f"{IMAGE_CPU_SECONDS} CPU s per image model x {IMAGE_SEEDS} seed(s)")',
             'f"{IMAGE_BUDGET} per image model x {IMAGE_SEEDS} seed(s)")'),
            (set_cell, EXPECT, expect(lines["04"], (
                f"At `gpu` each image model trains `IMAGE_STEPS` ({g4['IMAGE_STEPS']:,}) steps, not CPU seconds: "
                "one critic or discriminator update each, and a WGAN-GP step costs about the arithmetic of a "
                "DCGAN step, so \"equal CPU time\" below reads \"equal steps\" there (the DCGAN still makes five "
                "times as many generator updates). The toy runs count steps at every preset.")),
             ),
            (replace, "from ganlib.callbacks import ",
             "from ganlib.callbacks import CPUTimeBudget", "from ganlib.callbacks import TrainingBudget"),
            (replace, "class SWDTracker(keras.callbacks.Callback):",
             "    once ``every`` CPU seconds have passed since the last measurement, and at the end of\n"
             "    training; each row keeps the epoch's mean losses.\"\"\"\n\n"
             "    def __init__(self, reference, every, n=256, seed=0):\n"
             "        super().__init__()\n"
             "        self.reference, self.every, self.n, self.seed = reference, every, n, seed\n",
             "    once ``every`` CPU seconds (or ``every`` of another ``clock``: steps at gpu) have passed since\n"
             "    the last measurement, and at the end of training; each row keeps the epoch's mean losses.\"\"\"\n\n"
             "    def __init__(self, reference, every, n=256, seed=0, clock=time.process_time):\n"
             "        super().__init__()\n"
             "        self.reference, self.every, self.n, self.seed, self.clock = reference, every, n, seed, clock\n"),
            (replace, "class SWDTracker(keras.callbacks.Callback):",
             "        self.start = self.last = time.process_time()\n",
             "        self.start, self.last = time.process_time(), self.clock()\n"),
            (replace, "class SWDTracker(keras.callbacks.Callback):",
             "        if time.process_time() - self.last >= self.every:\n",
             "        if self.clock() - self.last >= self.every:\n"),
            (replace, "class SWDTracker(keras.callbacks.Callback):",
             "        now = self.last = time.process_time()\n",
             "        now, self.last = time.process_time(), self.clock()\n"),
            (replace, "def train_images(name, seed):",
             '    """Train one model for IMAGE_CPU_SECONDS of CPU time; return it with its SWD tracker."""\n'
             "    model = build_image_model(name, seed)\n"
             "    tracker = SWDTracker(held_out_images, every=IMAGE_CPU_SECONDS / SWD_POINTS, seed=seed)\n"
             "    budget = CPUTimeBudget(IMAGE_CPU_SECONDS)\n",
             '    """Train one model for IMAGE_CPU_SECONDS of CPU time (IMAGE_STEPS steps at gpu); return it with\n'
             '    its SWD tracker."""\n'
             "    model = build_image_model(name, seed)\n"
             "    budget = TrainingBudget(IMAGE_CPU_SECONDS, IMAGE_STEPS)\n"
             "    tracker = SWDTracker(held_out_images, every=(IMAGE_STEPS or IMAGE_CPU_SECONDS) / SWD_POINTS, seed=seed,\n"
             "                         clock=(lambda: budget.steps) if IMAGE_STEPS else time.process_time)\n"),
            (replace, "def separated(key",
             'print(f"\\nAfter {IMAGE_CPU_SECONDS} CPU s each', 'print(f"\\nAfter {IMAGE_BUDGET} each'),
            (replace, "Mode collapse benchmark at equal",
             'print(f"Sprites after {IMAGE_CPU_SECONDS} CPU s each', 'print(f"Sprites after {IMAGE_BUDGET} each'),
        ],
        "05_inpainting.ipynb": [
            (replace, params,
             "STEPS = {'quick': 20, 'cpu': 300, 'gpu': 1500}[PRESET]          # Adam steps of the latent search (paper: 1500)\n",
             f"STEPS = {{'quick': 20, 'cpu': 300, 'gpu': {g5['STEPS']}}}[PRESET]          # Adam steps of the latent search "
             "(paper: 1500; its code: 1000)\n"),
            (replace, params,
             "N_CANDIDATES = {'quick': 2, 'cpu': 4, 'gpu': 16}[PRESET]        # latent vectors tried per image\n",
             f"N_CANDIDATES = {{'quick': 2, 'cpu': 4, 'gpu': {g5['N_CANDIDATES']}}}[PRESET]         # latent vectors tried per image\n"),
            (replace, params,
             "N_TEST = {'quick': 4, 'cpu': 20, 'gpu': 64}[PRESET]             # held-out faces per mask type (LFW holds out 20)\n",
             f"N_TEST = {{'quick': 4, 'cpu': 20, 'gpu': {g5['N_TEST']}}}[PRESET]             # held-out faces per mask type "
             "(LFW holds out 20)\n"),
            (replace, params,
             "TRAIN_CPU_SECONDS = {'quick': 10, 'cpu': 240, 'gpu': 240}[PRESET]  # training budget when lesson 02's GAN is not found\n",
             "TRAIN_CPU_SECONDS = {'quick': 10, 'cpu': 240, 'gpu': None}[PRESET]  # training budget when lesson 02's GAN is not found\n"
             f"TRAIN_STEPS = {{'quick': None, 'cpu': None, 'gpu': {g5['TRAIN_STEPS']}}}[PRESET]  # at gpu: training steps "
             "instead (a GPU's work is not CPU time)\n"),
            (insert_after_parameters, EXPECT, expect(lines["05"], (
                f"At `gpu` the search makes `STEPS` ({g5['STEPS']:,}) steps, the authors' code release's count (the "
                f"paper's 1,500), with `N_CANDIDATES` ({g5['N_CANDIDATES']}) candidates for `N_TEST` ({g5['N_TEST']}) "
                "held-out faces per mask: sized to fit a T4 in under an hour. Without lesson 02's networks the "
                f"lesson first trains its own for `TRAIN_STEPS` ({g5['TRAIN_STEPS']:,}) steps (seconds on a T4) and "
                "searches with 32x32 grey networks, a small fraction of this time.")), "what-to-expect-at-gpu"),
            (replace, "Defaults. The paper (Yeh et al. 2017, CVPR)",
             "The `quick` and `cpu` presets use fewer steps (`STEPS`) to fit their time budget.",
             "Every preset uses fewer steps than the paper (`STEPS`) to fit its time budget; `gpu` uses the "
             "code's 1,000."),
            (replace, "def same_preset(folder)",
             "    source_of_gan = f\"a DCGAN trained here for {TRAIN_CPU_SECONDS} CPU s\"\n",
             "    source_of_gan = \"a DCGAN trained here for \" + (f\"{TRAIN_STEPS:,} steps\" if TRAIN_STEPS else\n"
             "                                                     f\"{TRAIN_CPU_SECONDS} CPU s\")\n"),
            (replace, "def same_preset(folder)",
             "            f\"(32x32 grey), for {TRAIN_CPU_SECONDS} CPU seconds; nothing is downloaded.\")",
             "            f\"(32x32 grey), for \" + (f\"{TRAIN_STEPS:,} steps\" if TRAIN_STEPS else f\"{TRAIN_CPU_SECONDS} CPU seconds\")\n"
             "            + \"; nothing is downloaded.\")"),
            (replace, "if generator is None:  # no lesson 02",
             "train_images, TRAIN_CPU_SECONDS, batch_size=32,",
             "train_images, TRAIN_CPU_SECONDS, steps=TRAIN_STEPS, batch_size=32,"),
        ],
        "06_conditional_gan.ipynb": [
            (replace, params,
             'CPU_SECONDS = {"quick": 4, "cpu": 150, "gpu": 900}[PRESET]             # training budget of EACH variant\n',
             'CPU_SECONDS = {"quick": 4, "cpu": 150, "gpu": None}[PRESET]            # training budget of EACH variant\n'
             f'STEPS = {{"quick": None, "cpu": None, "gpu": {g6["STEPS"]}}}[PRESET]          # at gpu: training steps '
             'instead (a GPU\'s work is not CPU time)\n'
             'BUDGET = f"{STEPS:,} steps" if STEPS else f"{CPU_SECONDS} CPU s"\n'),
            (replace, params,
             'width {WIDTH}, "\n      f"{CPU_SECONDS} CPU seconds of training per variant")',
             'width {WIDTH}, "\n      + (f"{STEPS:,} steps" if STEPS else f"{CPU_SECONDS} CPU seconds") + " of training per variant")'),
            (set_cell, EXPECT, expect(lines["06"], (
                f"At `gpu` each variant trains `STEPS` ({g6['STEPS']:,}) steps, about 16 epochs of MNIST, not CPU "
                "seconds: \"the same CPU time\" below reads \"the same number of steps\" there.")),
             ),
            (replace, "from ganlib.callbacks import ",
             "from ganlib.callbacks import CPUTimeBudget", "from ganlib.callbacks import TrainingBudget"),
            (replace, "def build_conditional_gan(",
             "budget = CPUTimeBudget(CPU_SECONDS)", "budget = TrainingBudget(CPU_SECONDS, STEPS)"),
            (replace, "print(f\"{labelled.description}; ",
             "{CPU_SECONDS} CPU s of training per variant", "{BUDGET} of training per variant"),
        ],
        "07_your_own_images.ipynb": [
            (replace, "**What to expect.** At `cpu`",
             "At `gpu` (Colab) it trains 64x64 images for 30 minutes of wall time; that path has run\n"
             "only on a CPU with stand-in settings, never on a GPU, so its results are not known.",
             f"At `gpu` (Colab) it trains 64x64 images for {g7['WALL_SECONDS'] // 60} minutes of wall time, a budget a GPU "
             f"user can plan for: on a T4 {_steps_of(lines['07'])}, estimated from the arithmetic of one step "
             "(`docs/gpu_estimates.md`). That path has run only on a CPU with stand-in settings, never on a "
             "GPU, so its results are not known."),
        ],
    }


def apply(folder: Path, lines: dict) -> dict:
    """Apply every edit to the notebooks in ``folder``; returns notebook -> number of edits made.
    Nothing is written unless every edit of every notebook succeeds."""
    changed, texts = {}, {}
    for name, notebook_edits in edits(lines).items():
        path = folder / name
        raw = path.read_text(encoding="utf-8")
        notebook = json.loads(raw)
        before = {cell.get("id"): json.dumps([cell.get("outputs"), cell["metadata"]]) for cell in notebook["cells"]}
        changed[name] = sum(function(notebook, name, *arguments) for function, *arguments in notebook_edits)
        after = {cell.get("id"): json.dumps([cell.get("outputs"), cell["metadata"]]) for cell in notebook["cells"]}
        if any(after.get(key) != value for key, value in before.items()):
            raise PatchError(f"{name}: an edit changed an output or a cell's metadata")  # sources only
        text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
        if text != raw:
            texts[path] = text
    for path, text in texts.items():
        path.write_text(text, encoding="utf-8")
    return changed


def main(argv=None) -> int:
    folder = Path(argv[0]) if argv else ROOT / "notebooks"
    try:
        changed = apply(folder, lesson_lines())
    except PatchError as error:
        print(f"not applied: {error}", file=sys.stderr)
        return 1
    for name, count in changed.items():
        print(f"{name}: {count} edit(s)" + ("" if count else " (already applied)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
