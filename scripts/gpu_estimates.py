"""What you should see at the `gpu` preset: the expected time of each image lesson on a Colab T4,
from the FLOPs of one training step measured on its networks at the `gpu` preset's sizes.

    .venv/bin/python scripts/gpu_estimates.py          # writes docs/gpu_estimates.md

How: each lesson's GAN is built at the gpu preset's sizes (the notebooks' parameters cells,
copied into LESSONS below), trained one step on two images (to create the optimizers'
variables), then its ``train_step`` is traced for a full batch and TensorFlow's profiler
(``tf.compat.v1`` ``model_analyzer``, ``float_operation``) counts the floating-point operations
of that graph: forward, backward, gradient penalty and optimizer updates, a multiply-add being
two operations (the branches of a ``tf.cond``, which the profiler skips, added by the script,
weighted by how often they run). Time = FLOPs / (peak x utilisation), with a Colab T4's peaks (NVIDIA's data
sheet: 8.1 TFLOPS fp32, 65 TFLOPS fp16 tensor cores) and the utilisation stated below.

Nothing here has run on a GPU: the table says so. Lessons 03, 04 and 06 stop on a budget of
CPU seconds (``time.process_time``), which a GPU does not spend: their step count on a T4 is
not known before a run, so for them the table gives the time per 1,000 steps and what the
budget would mean at the GPU's rate.
"""
from __future__ import annotations

import datetime
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: NVIDIA T4 data sheet peaks (TFLOPS) and the utilisation assumed: small convolutions at batch
#: 64-128 keep cuDNN far from the peak; 35% of fp32 is this script's assumption, not a measurement.
T4_FP32_TFLOPS = 8.1
T4_FP16_TFLOPS = 65.0
UTILISATION_FP32 = 0.35
UTILISATION_FP16 = 0.15  # tensor cores at these sizes: an assumption too

CELEBA_IMAGES = 202_599

#: The gpu preset of each image lesson (from the notebooks' parameters cells, 2026-11-29).
LESSONS = [
    dict(lesson="02", title="DCGAN on CelebA faces", model="dcgan+diffaugment+ema", kind="recipe", recipe="dcgan+diffaugment+ema",
         image_size=64, channels=3, width=64, batch_size=128, latent_dim=100,
         steps=8 * (CELEBA_IMAGES // 128), budget=None,
         plan="8 epochs of CelebA (202,599 // 128 = 1,582 steps each; fewer with a held-out part)"),
    dict(lesson="03", title="Pokemon sprites, recipes", model="dcgan-2015", kind="recipe", recipe="dcgan-2015",
         image_size=64, channels=3, width=64, batch_size=64, latent_dim=100, steps=None, budget=1200,
         plan="3 recipe runs of 1,200 CPU s, then the best one 3,600 CPU s more"),
    dict(lesson="03", title="", model="dcgan+diffaugment+ema", kind="recipe", recipe="dcgan+diffaugment+ema",
         image_size=64, channels=3, width=64, batch_size=64, latent_dim=100, steps=None, budget=1200, plan=""),
    dict(lesson="03", title="", model="sn-hinge+diffaugment+ema", kind="recipe", recipe="sn-hinge+diffaugment+ema",
         image_size=64, channels=3, width=64, batch_size=64, latent_dim=100, steps=None, budget=1200, plan=""),
    dict(lesson="04", title="WGAN-GP on sprites", model="WGAN-GP (n_critic 5)", kind="wgan-gp",
         image_size=32, channels=3, width=32, batch_size=64, latent_dim=100, steps=None, budget=1800,
         plan="WGAN-GP and DCGAN, 1,800 CPU s each (plus the 2-D toy runs, not counted)"),
    dict(lesson="04", title="", model="DCGAN", kind="gan", image_size=32, channels=3, width=32, batch_size=64,
         latent_dim=100, steps=None, budget=1800, plan=""),
    dict(lesson="06", title="Conditional GANs on MNIST", model="concat", kind="conditional",
         conditioning="concat", image_size=32, channels=1, width=64, batch_size=64, latent_dim=64,
         steps=None, budget=900, plan="3 variants of 900 CPU s each"),
    dict(lesson="06", title="", model="projection", kind="conditional", conditioning="projection",
         image_size=32, channels=1, width=64, batch_size=64, latent_dim=64, steps=None, budget=900, plan=""),
    dict(lesson="06", title="", model="AC-GAN", kind="conditional", conditioning="acgan",
         image_size=32, channels=1, width=64, batch_size=64, latent_dim=64, steps=None, budget=900, plan=""),
]


def build(entry):
    """The lesson's GAN, compiled, and one example batch ``(data, spec)`` for tracing."""
    import keras
    import numpy as np
    import tensorflow as tf

    from ganlib import augment, models, recipes
    from ganlib.conditional import ConditionalGAN
    from ganlib.train import GAN, WGANGP

    keras.utils.set_random_seed(0)
    size, channels, width, latent = entry["image_size"], entry["channels"], entry["width"], entry["latent_dim"]
    kind = entry["kind"]
    if kind == "recipe":
        gan = recipes.build_gan(entry["recipe"], image_size=size, channels=channels, width=width,
                                latent_dim=latent)
    elif kind == "wgan-gp":
        gan = WGANGP(models.dcgan_generator(latent, size, channels, width=width),
                     models.wgan_critic(size, channels, width=width), latent, seed=0)
    elif kind == "gan":
        gan = GAN(models.dcgan_generator(latent, size, channels, width=width),
                  models.dcgan_discriminator(size, channels, width=width), latent, seed=0)
    else:  # lesson 06's build_conditional_gan
        generator = models.conditional_dcgan_generator(latent, 10, size, channels, width=width)
        discriminator = models.conditional_dcgan_discriminator(10, size, channels, width=width,
                                                               conditioning=entry["conditioning"])
        gan = ConditionalGAN(generator, discriminator, latent, 10, conditioning=entry["conditioning"],
                             augment=augment.DiffAugment("translation,cutout", seed=0), ema_decay=0.999, seed=0)
    if not getattr(gan, "compiled", False):
        gan.compile()
    shape = (size, size, channels)
    images = np.random.default_rng(0).uniform(-1, 1, (2, *shape)).astype(np.float32)
    if kind == "conditional":
        labels = np.array([0, 1], np.int32)
        small = tf.data.Dataset.from_tensor_slices((images, labels)).batch(2)
        spec = (tf.TensorSpec((entry["batch_size"], *shape), tf.float32),
                tf.TensorSpec((entry["batch_size"],), tf.int32))
    else:
        small = tf.data.Dataset.from_tensor_slices(images).batch(2)
        spec = tf.TensorSpec((entry["batch_size"], *shape), tf.float32)
    gan.fit(small, epochs=1, verbose=0)  # creates every variable (optimizers included)
    return gan, spec


def _graph_flops(graph, options, branch_weight, counts):
    """FLOPs of ``graph`` plus, for each ``tf.cond`` in it (the profiler skips their branches),
    its true branch x ``branch_weight`` + its false branch x (1 - ``branch_weight``)."""
    from tensorflow.python.profiler import model_analyzer

    total = float(model_analyzer.profile(graph=graph, options=options).total_float_ops)
    for op in graph.get_operations():
        if op.type in ("If", "StatelessIf"):
            counts["conds"] += 1
            for key, weight in (("then_branch", branch_weight), ("else_branch", 1.0 - branch_weight)):
                branch = graph._get_function(op.get_attr(key).name).graph
                total += weight * _graph_flops(branch, options, branch_weight, counts)
    return total


def step_flops(gan, spec):
    """Floating-point operations of one ``train_step`` on a full batch (TensorFlow's profiler),
    averaged over steps: the generator's update, which WGAN-GP makes in a ``tf.cond`` on every
    ``n_critic``-th step, counts 1/n_critic. Returns ``(flops, number of conds)``."""
    import tensorflow as tf
    from tensorflow.python.profiler import option_builder

    if isinstance(spec, tuple):
        graph = tf.function(lambda x, y: gan.train_step((x, y))).get_concrete_function(*spec).graph
    else:
        graph = tf.function(lambda x: gan.train_step(x)).get_concrete_function(spec).graph
    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    counts = {"conds": 0}
    flops = _graph_flops(graph, options, 1.0 / max(1, int(getattr(gan, "d_steps", 1))), counts)
    return flops, counts["conds"]


def _duration(seconds) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def table(rows) -> str:
    lines = [
        "| lesson | model | gpu preset | GFLOP per step (measured) | T4 ms per step, fp32 at "
        f"{UTILISATION_FP32:.0%} | images/s the data must feed | steps | expected T4 training time |",
        "|---|---|---|---:|---:|---:|---|---|",
    ]
    for row in rows:
        seconds = row["flops"] / (T4_FP32_TFLOPS * 1e12 * UTILISATION_FP32)
        fed = row["batch_size"] / seconds
        preset = (f"{row['image_size']}x{row['image_size']}x{row['channels']}, width {row['width']}, "
                  f"batch {row['batch_size']}")
        if row["steps"]:
            steps = f"{row['steps']:,}"
            expected = f"{_duration(row['steps'] * seconds)} ({row['plan']})"
        else:
            steps = f"set by {row['budget']:,} CPU s"
            expected = (f"{_duration(1000 * seconds)} per 1,000 steps; the {row['budget']:,} CPU-s budget is "
                        "host time, not GPU time: steps unknown until run")
        lines.append(f"| {row['lesson']} | {row['model']} | {preset} | {row['flops'] / 1e9:,.1f} | "
                     f"{1000 * seconds:,.1f} | {fed:,.0f} | {steps} | {expected} |")
    return "\n".join(lines)


def _span(low, high, show) -> str:
    return show(low) if show(low) == show(high) else f"{show(low)} to {show(high)}"


#: Below this many milliseconds of arithmetic per step, launching the step's kernels (tens of
#: microseconds each, hundreds of them) takes as long as the arithmetic: the time is a floor.
LAUNCH_BOUND_MS = 10.0


def notes(rows) -> str:
    """One line per lesson for its notebook (the lead pastes them)."""
    out = []
    for lesson in sorted({row["lesson"] for row in rows}):
        mine = [row for row in rows if row["lesson"] == lesson]
        first = mine[0]
        per_step = [row["flops"] / (T4_FP32_TFLOPS * 1e12 * UTILISATION_FP32) for row in mine]
        flops = [row["flops"] / 1e9 for row in mine]
        gflop = _span(min(flops), max(flops), lambda v: f"{v:.0f}")
        if first["steps"]:
            text = (f"about {_duration(first['steps'] * per_step[0])} of training on a Colab T4 "
                    f"({first['steps']:,} steps of {1000 * per_step[0]:.0f} ms, from "
                    f"{gflop} GFLOP per step at {UTILISATION_FP32:.0%} of the T4's fp32 peak)")
        else:
            text = (f"{_span(min(per_step), max(per_step), lambda v: f'{1000 * v:.0f}')} ms per training step on a "
                    f"Colab T4 ({_span(min(per_step), max(per_step), lambda v: _duration(1000 * v))} per 1,000 "
                    f"steps, from {gflop} GFLOP per step at {UTILISATION_FP32:.0%} of the fp32 peak"
                    + ("; so little arithmetic that kernel launches may take longer: a floor"
                       if max(per_step) * 1000 < LAUNCH_BOUND_MS else "")
                    + "); its budgets are CPU seconds, so how many steps they buy on a GPU is not known before a run")
        out.append(f"- Lesson {lesson} at `gpu` (not yet run on a GPU): {text}.")
    return "\n".join(out)


def main(argv=None) -> int:
    out = Path(argv[0] if argv else Path(__file__).resolve().parents[1] / "docs" / "gpu_estimates.md")
    import tensorflow as tf

    rows = []
    for entry in LESSONS:
        start = time.perf_counter()
        gan, spec = build(entry)
        flops, conds = step_flops(gan, spec)
        rows.append(dict(entry, flops=flops, conds=conds))
        print(f"lesson {entry['lesson']} {entry['model']}: {flops / 1e9:.1f} GFLOP per step, {conds} tf.cond(s) "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    text = f"""# What you should see at `gpu`: expected times on a Colab T4

**Not yet run on a GPU.** Made by `scripts/gpu_estimates.py` on {datetime.date.today().isoformat()}
(TensorFlow {tf.__version__}); run it again after changing a lesson's gpu preset.

How: each lesson's networks at its `gpu` preset are built as the notebook builds them, and
TensorFlow's profiler counts the floating-point operations of one traced `train_step` on a full
batch (forward, backward, gradient penalty, optimizer updates; a multiply-add counts 2). The
profiler skips the branches of a `tf.cond`: the script adds them, the generator's update that
WGAN-GP makes on every 5th step counted as 1/5 of it per step. Time =
FLOPs / ({T4_FP32_TFLOPS} TFLOPS fp32 peak of a T4 x {UTILISATION_FP32:.0%} utilisation, an assumption:
small convolutions at batch 64-128 stay far from the peak). Mixed precision (the T4's tensor
cores, {T4_FP16_TFLOPS:.0f} TFLOPS peak) would divide these times by about
{T4_FP16_TFLOPS * UTILISATION_FP16 / (T4_FP32_TFLOPS * UTILISATION_FP32):.1f} at an assumed
{UTILISATION_FP16:.0%} of its peak; ganlib trains in float32. Times exclude tracing, sample grids,
checkpoints and the metrics. "images/s the data must feed" is the batch size over the step time:
the data pipeline's rate needed to keep the GPU busy (`python -m ganlib bench --data`).

{table(rows)}

## One line per lesson (for the notebooks)

{notes(rows)}

## What this does not know

- Lessons 03, 04 and 06 stop on budgets of CPU seconds (`time.process_time` of the process). On
  a GPU the host mostly waits for the device, so a budget buys an unknown number of steps and
  wall time: the first GPU run should record steps and wall seconds per budget.
- The utilisation: the only assumption in the times; a measured T4 step time replaces it.
  Steps under {LAUNCH_BOUND_MS:.0f} ms of arithmetic (lesson 04's 32x32 networks) are bound by
  kernel launches rather than FLOPs: their times are floors.
- The data: "images/s the data must feed" above the rate of the data pipeline means the GPU
  waits for data. Streamed sets (CelebA) decode once and then gather uint8 batches
  (`benchmarks/README.md`, data pipeline); sets held in memory from the start (sprites,
  digits) go through `tf.data`'s per-image shuffle, measured at 3,000-14,000 images/s on
  this machine's 2 cores: below what lesson 04 would need.
- Lesson 02 falls back to 100 LFW faces when CelebA cannot be had (then 8 x 400 steps).
"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
