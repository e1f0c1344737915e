"""Mode collapse on the literature's 2-D benchmarks, by the VEEGAN / PacGAN protocol.

Targets: a ring of 8 Gaussians (radius 1, std 0.01) and a grid of 25 (centres
{-4, -2, 0, 2, 4}^2, std 0.05). Each run trains a toy GAN with ``ganlib.toy.train_toy_gan``,
draws 2,500 samples from the generator and scores them with ``ganlib.metrics.mode_coverage``:
a sample is high quality (HQ) within 3 std of its nearest centre, a mode is captured when it
is the nearest centre of at least one HQ sample, and PacGAN's reverse KL compares the
histogram of HQ samples over the modes with the uniform one (Srivastava et al. 2017, VEEGAN,
Table 1; Lin et al. 2018, PacGAN). Mean +- std over seeds, beside the published rows.

    nice -n 5 .venv/bin/python benchmarks/mode_collapse.py            # the two 2,000-step recipes, 5 seeds
    .venv/bin/python benchmarks/mode_collapse.py --methods gan-recipe --seeds 2 --targets ring
    # run 3: the long WGAN-GP recipe, 10,000 steps, about 3 CPU minutes a run
    nice -n 10 .venv/bin/python benchmarks/mode_collapse.py --methods wgan-gp-long --out benchmarks/results/mode_collapse_run3
    # run 4: 16,000 steps, about 4.5 CPU minutes a run; one process per target uses both cores
    .venv/bin/python benchmarks/mode_collapse.py --methods wgan-gp-16k --targets ring --out benchmarks/results/mode_collapse_run4_ring
    .venv/bin/python benchmarks/mode_collapse.py --methods wgan-gp-16k --targets grid --out benchmarks/results/mode_collapse_run4_grid

Runs one TensorFlow thread (one core) per process. Writes
``benchmarks/results/mode_collapse.{txt,json}`` (``--out`` to change the stem).
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

# The published rows (their own setups), modes captured / % high-quality samples:
# VEEGAN Table 1 (Srivastava et al. 2017), PacGAN's 2-D table (Lin et al. 2018, 10 runs),
# WGAN-GP as reported by GDPP (Elfeki et al. 2019).
PUBLISHED = [
    ("GAN (VEEGAN table)", (1.0, 99.3), (3.3, 0.5)),
    ("Unrolled GAN (VEEGAN table)", (7.6, 35.6), (23.6, 16.0)),
    ("VEEGAN (VEEGAN table)", (8.0, 52.9), (24.6, 40.0)),
    ("GAN (PacGAN table, 10 runs)", (6.3, 98.2), (17.3, 94.8)),
    ("PacGAN4 (PacGAN table)", (7.8, 95.9), (24.8, 93.6)),
    ("WGAN-GP (GDPP, Elfeki et al. 2019)", (6.8, 59.6), (24.2, 28.7)),
]

N_SAMPLES = 2500  # the protocol's sample count

# ganlib's rows. "defaults": train_toy_gan(target, steps, loss=...) with nothing else.
# "recipe": the settings found for this benchmark (see benchmarks/README.md).
RECIPE = dict(hidden_units=128, hidden_layers=3, activation="relu", batch_size=512,
              learning_rate=2e-3, decay_to=0.0)
METHODS = {
    "gan-recipe": dict(loss="gan", d_steps=1, **RECIPE),
    "wgan-gp-recipe": dict(loss="wgan-gp", d_steps=5, gp_weight=1.0, **RECIPE),
    # Run 3: the recipe trained 5x longer with n_critic = 3 (about 3 CPU minutes a run).
    "wgan-gp-long": dict(loss="wgan-gp", d_steps=3, gp_weight=1.0, **RECIPE),
    # Run 4: the same, 16,000 steps (about 4.5 CPU minutes a run): at 10,000 the ring's seed 4
    # ended with its modes too wide (median distance to the centre 1.3x a perfect sampler's).
    "wgan-gp-16k": dict(loss="wgan-gp", d_steps=3, gp_weight=1.0, **RECIPE),
    # Run 5: the same, sampled from a running average of the generator's weights (decay 0.999):
    # run 4's two short ring seeds (5, 9) were too wide, not missing modes.
    "wgan-gp-16k-ema": dict(loss="wgan-gp", d_steps=3, gp_weight=1.0, ema_decay=0.999, **RECIPE),
    "gan-defaults": dict(loss="gan"),
    "wgan-gp-defaults": dict(loss="wgan-gp"),
}
LABELS = {
    "gan-defaults": "ganlib GAN, train_toy_gan defaults",
    "wgan-gp-defaults": "ganlib WGAN-GP, train_toy_gan defaults",
    "gan-recipe": "ganlib GAN, toy recipe",
    "wgan-gp-recipe": "ganlib WGAN-GP, toy recipe",
    "wgan-gp-long": "ganlib WGAN-GP, long toy recipe",
    "wgan-gp-16k": "ganlib WGAN-GP, long toy recipe",
    "wgan-gp-16k-ema": "ganlib WGAN-GP, long toy recipe, averaged generator",
}
# Generator steps per run when --steps is not given.
STEPS = {"wgan-gp-long": 10_000, "wgan-gp-16k": 16_000, "wgan-gp-16k-ema": 16_000}
DEFAULT_STEPS = 2000


def make_target(name):
    from ganlib import toy

    if name == "ring":
        return toy.ring_of_gaussians(n_modes=8, radius=1.0, std=0.01)
    if name == "grid":
        return toy.grid_of_gaussians(n_per_side=5, spacing=2.0, std=0.05)
    raise ValueError(f"target={name!r} is not allowed; use 'ring' or 'grid'.")


def run_once(method, target_name, seed, steps):
    """Train one model; return the protocol's numbers and the CPU seconds it took."""
    from ganlib import toy

    settings = dict(METHODS[method])
    target = make_target(target_name)
    network = {key: settings.pop(key) for key in ("activation",) if key in settings}
    hidden_units = settings.get("hidden_units") or 128
    hidden_layers = settings.get("hidden_layers", 2)
    # Networks of different sizes: generator_size / discriminator_size = (units, layers).
    generator_size = settings.pop("generator_size", (hidden_units, hidden_layers))
    discriminator_size = settings.pop("discriminator_size", (hidden_units, hidden_layers))
    if network:
        settings["generator"] = toy.toy_generator(2, 2, *generator_size, seed=seed, **network)
        settings["discriminator"] = toy.toy_discriminator(2 * settings.get("pack", 1), *discriminator_size,
                                                          seed=seed + 1000, **network)
    start = time.process_time()
    history = toy.train_toy_gan(target, steps, seed=seed, n_snapshots=1, eval_samples=N_SAMPLES,
                                record_every=steps, **settings)
    cpu_seconds = time.process_time() - start
    noise = np.random.default_rng(10_000 + seed).standard_normal((N_SAMPLES, 2)).astype(np.float32)
    samples = np.asarray(history["generator"](noise, training=False))
    result = target.coverage(samples)
    return {"method": method, "target": target_name, "seed": seed, "steps": steps,
            "d_steps": history["d_steps"], "cpu_seconds": cpu_seconds,
            "modes": result["modes"], "n_modes": result["n_modes"],
            "hq_percent": 100.0 * result["hq_fraction"], "reverse_kl": result["reverse_kl"],
            "samples_per_mode": result["samples_per_mode"]}


def mean_std(values):
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        finite = values[~np.isnan(values)]
        note = f" ({int(np.isnan(values).sum())} NaN)"
        values = finite
    else:
        note = ""
    if len(values) == 0:
        return "n/a" + note
    return f"{values.mean():.2f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.2f}{note}"


def summarise(rows, methods, targets):
    lines = []
    header = f"| method (setup) | {' | '.join(f'{t} modes | {t} % HQ | {t} reverse KL' for t in targets)} | CPU s / run |"
    lines += [header, "|" + "---|" * (2 + 3 * len(targets))]
    for method in methods:
        cells, seconds = [], []
        for target in targets:
            runs = [row for row in rows if row["method"] == method and row["target"] == target]
            if not runs:
                cells += ["", "", ""]
                continue
            n_modes = runs[0]["n_modes"]
            every = sum(row["modes"] == n_modes for row in runs)
            cells += [f"{mean_std([r['modes'] for r in runs])} ({every}/{len(runs)} seeds all {n_modes})",
                      mean_std([r["hq_percent"] for r in runs]), mean_std([r["reverse_kl"] for r in runs])]
            seconds += [r["cpu_seconds"] for r in runs]
        runs = [row for row in rows if row["method"] == method]
        if not runs:
            continue
        steps = sorted({row["steps"] for row in runs})
        label = f"{LABELS[method]}, {'/'.join(map(str, steps))} steps, k = {runs[0]['d_steps']}"
        lines.append(f"| {label} | {' | '.join(cells)} | {np.mean(seconds):.0f} |")
    for name, ring, grid in PUBLISHED:
        published = {"ring": ring, "grid": grid}
        cells = []
        for target in targets:
            modes, hq = published[target]
            cells += [f"{modes:g}", f"{hq:g}", "-"]
        lines.append(f"| {name} | {' | '.join(cells)} | - |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", default=["gan-recipe", "wgan-gp-recipe"], choices=list(METHODS))
    parser.add_argument("--targets", nargs="+", default=["ring", "grid"], choices=["ring", "grid"])
    parser.add_argument("--seeds", type=int, default=5, help="how many seeds (default 5)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="the first seed (default 0): seeds first .. first + N - 1")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"generator steps per run (default {DEFAULT_STEPS}; wgan-gp-long 10000, wgan-gp-16k 16000)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "mode_collapse"),
                        help="path stem of the .txt and .json results ('' to write nothing)")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds={args.seeds} must be >= 1")
    if args.first_seed < 0:
        parser.error(f"--first-seed={args.first_seed} must be >= 0")
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps={args.steps} must be >= 1")

    import ganlib  # before TensorFlow (oneDNN switch)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    rows = []
    settings = {name: dict(METHODS[name]) for name in args.methods}
    for seed in range(args.first_seed, args.first_seed + args.seeds):  # seeds outermost: an interrupted run still covers every row
        for method in args.methods:
            for target in args.targets:
                row = run_once(method, target, seed, args.steps or STEPS.get(method, DEFAULT_STEPS))
                rows.append(row)
                print(f"{method:18s} {target:4s} seed {seed}: {row['modes']}/{row['n_modes']} modes, "
                      f"{row['hq_percent']:.1f}% HQ, reverse KL {row['reverse_kl']:.3f}, "
                      f"{row['cpu_seconds']:.0f} CPU s", flush=True)
                write(args, rows, settings, tf, final=False)
    write(args, rows, settings, tf, final=True)


def write(args, rows, settings, tf, final):
    """The table so far, printed at the end and written to the .txt/.json after every run."""
    table = summarise(rows, args.methods, args.targets)
    text = (f"Mode collapse, VEEGAN/PacGAN protocol: {N_SAMPLES} samples, HQ = within 3 std of the "
            f"nearest centre, a mode captured by >= 1 HQ sample; {args.seeds} seeds from {args.first_seed}, "
            f"{args.steps or 'per-method'} generator steps per run, one TensorFlow thread; {len(rows)} runs "
            f"{'(complete)' if final else '(in progress)'}.\nA perfect sampler scores "
            f"{100 * (1 - math.exp(-4.5)):.1f}% HQ (3 std holds 1 - exp(-4.5) of a 2-D normal).\n"
            f"Settings: {json.dumps(settings)}\n\n{table}\n")
    if final:
        print("\n" + text)
    if args.out:
        stem = Path(args.out)
        stem.parent.mkdir(parents=True, exist_ok=True)
        stem.with_suffix(".txt").write_text(text)
        stem.with_suffix(".json").write_text(json.dumps({
            "protocol": {"samples": N_SAMPLES, "hq_radius_std": 3, "seeds": args.seeds, "first_seed": args.first_seed,
                         "steps": args.steps or {m: STEPS.get(m, DEFAULT_STEPS) for m in args.methods}},
            "settings": settings, "published": PUBLISHED, "runs": rows,
            "machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                        "tensorflow": tf.__version__},
        }, indent=1))
        if final:
            print(f"wrote {stem.with_suffix('.txt')} and {stem.with_suffix('.json')}")


if __name__ == "__main__":
    main()
