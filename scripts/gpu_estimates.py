"""What you should see at the `gpu` preset: the expected time of each lesson's training on a Colab
T4, from the FLOPs of one step measured on its networks at the `gpu` preset's sizes.

    .venv/bin/python scripts/gpu_estimates.py          # writes docs/gpu_estimates.md

How: each lesson's networks are built at the gpu preset's sizes (``GPU`` and ``LESSONS`` below
copy the notebooks' parameters cells), and TensorFlow's profiler (``tf.compat.v1``
``model_analyzer``, ``float_operation``) counts the floating-point operations of one traced
step on a full batch: forward, backward, gradient penalty and optimizer updates, a
multiply-add being two operations (the branches of a ``tf.cond``, which the profiler skips,
added by the script, weighted by how often they run). For lesson 05 the step is one step of
the latent search (``ganlib.inpaint.search_latents``: generator and discriminator forward, the
gradient back to z, Adam on z). Time per step = FLOPs / (peak x utilisation) + an overhead
per step; a lesson's time = its steps x that, summed over its runs. A Colab T4's peaks are
NVIDIA's data sheet's (8.1 TFLOPS fp32, 65 TFLOPS fp16 tensor cores); the utilisation and the
overheads are assumptions, stated below and in the document.

At `gpu` every lesson's budget is counted in steps (or, lesson 07, in wall-clock seconds),
never in CPU seconds, so each lesson's time follows from the table. Nothing here has run on a
GPU: the document says so.
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
T4_MEMORY_GIB = 15.0     # of the T4's 16 GB, what a Colab session can allocate (about)

#: Overheads per step (assumptions, not measurements). A step run by Keras' ``fit`` is compiled
#: by XLA on a GPU (Keras' ``jit_compile='auto'``): a few fused kernels, but Python, ganlib's
#: per-step callbacks and a device sync each step: FIT_STEP_MS. A step of a plain
#: ``tf.function`` (the toy loop of lesson 04, the classic model of lesson 03, the latent
#: search of lesson 05) launches every operation of its graph as a kernel: LAUNCH_US each
#: (the number of operations is counted in the traced graph); the classic model's steps are
#: also called from Python one at a time (FIT_STEP_MS each).
FIT_STEP_MS = 2.0
LAUNCH_US = 5.0

CELEBA_IMAGES = 202_599
SPRITES_TRAIN = 20_000 - 1_000   # lesson 04: N_SPRITES minus N_HELD_OUT

#: The `gpu` values of each lesson's sizes and budgets: the notebooks' parameters cells
#: (``scripts/_apply_budget_cells.py`` writes 03-07's there; 02's parameters cell is its own).
GPU = {
    "02": dict(EPOCHS=4, RECIPES=("dcgan-2015", "dcgan+diffaugment"), IMAGE_SIZE=64, CHANNELS=3, WIDTH=64,
               BATCH_SIZE=128),
    # every model the same number of steps (recipes: one D and one G update each; their arithmetic
    # per step is the same to within 0.2%); the classic model: iterations of its own schedule
    # (10 D steps and 1 G step each), as many as cost the arithmetic of one recipe's STEPS
    "03": dict(STEPS=4_000, MORE_STEPS=8_000, CLASSIC_ITERATIONS=850, CLASSIC_PRETRAIN=100, CLASSIC_D_STEPS=10,
               IMAGE_SIZE=64, WIDTH=64, BATCH_SIZE=64),
    # toy runs and critics were counted in steps already; the image models: IMAGE_STEPS training
    # steps (one critic / discriminator update each) per model and seed
    "04": dict(TOY_STEPS=5_000, TOY_SEEDS=5, TOY_TARGETS=2, N_CRITIC=5, CRITIC_STEPS=5_000, IMAGE_SIZE=32,
               IMAGE_STEPS=20_000, IMAGE_SEEDS=3),
    # the search: the authors' code release's 1,000 steps (the paper: 1,500), ganlib's default 8
    # candidates, 32 held-out faces per mask (lesson 02's cpu preset holds out 20)
    "05": dict(STEPS=1_000, N_CANDIDATES=8, N_TEST=32, LAMBDAS=(0, 0.003, 0.1, 1, 10), TRAIN_STEPS=5_000),
    "06": dict(STEPS=15_000, IMAGE_SIZE=32, WIDTH=64),  # about 16 epochs of MNIST's 60,000 at batch 64
    "07": dict(WALL_SECONDS=1_800, IMAGE_SIZE=64, WIDTH=64, BATCH_SIZE=128),
}


def lesson05_searches(p=GPU["05"]):
    """The latent searches lesson 05 makes, in its order: (what, calls, latents per call, with D).
    Every call searches ``images x N_CANDIDATES`` latents at once, for ``STEPS`` steps; with
    lambda = 0 the discriminator is not run."""
    k, n, positive = p["N_CANDIDATES"], p["N_TEST"], sum(1 for lam in p["LAMBDAS"] if lam > 0)
    return [
        ("section 5: both losses and perceptual only, 6 faces", 2, 6 * k, True),
        ("section 5: contextual only, 6 faces", 1, 6 * k, False),
        (f"lambda sweep, box and sphere, {positive} lambdas > 0", 2 * positive, n * k, True),
        ("lambda sweep, box and sphere, lambda 0", 2, n * k, False),
        ("four masks at once (section 6)", 1, 4 * n * k, True),
        ("three hole sizes at once", 1, 3 * n * k, True),
        ("three boxes and the sphere for z", 4, n * k, True),
        ("your photo (twice the candidates)", 1, 2 * k, True),
    ]


def _rows():
    """One row per kind of run: the networks to build and how many steps of them run."""
    p2, p3, p4, p5, p6, p7 = (GPU[key] for key in ("02", "03", "04", "05", "06", "07"))
    epoch02 = CELEBA_IMAGES // p2["BATCH_SIZE"]
    image02 = dict(image_size=p2["IMAGE_SIZE"], channels=p2["CHANNELS"], width=p2["WIDTH"],
                   batch_size=p2["BATCH_SIZE"], latent_dim=100)
    rows = [dict(lesson="02", kind="recipe", recipe=name, model=name, **image02,
                 steps=p2["EPOCHS"] * epoch02, runs=1,
                 part=f"{name}, {p2['EPOCHS']} epochs of CelebA ({p2['EPOCHS'] * epoch02:,} steps)")
            for name in p2["RECIPES"]]
    rows.append(dict(lesson="03", kind="classic", model="classic model (2017)", image_size=28, channels=4,
                     width=None, batch_size=32, latent_dim=100, d_steps=p3["CLASSIC_D_STEPS"],
                     pretrain=p3["CLASSIC_PRETRAIN"], steps=p3["CLASSIC_ITERATIONS"], runs=1, unit="iterations",
                     part=f"the classic model, {p3['CLASSIC_ITERATIONS']:,} iterations of 10 D + 1 G steps"))
    image03 = dict(image_size=p3["IMAGE_SIZE"], channels=3, width=p3["WIDTH"], batch_size=p3["BATCH_SIZE"],
                   latent_dim=100)
    trained03 = ("dcgan-2015", "dcgan+ema", "dcgan+ema+r1", "dcgan+ema+mirror", "dcgan+diffaugment+ema",
                 "sn-hinge+diffaugment+ema")  # the runs of lesson 03's RECIPE_ROWS (two rows share one run)
    for name in trained03:
        rows.append(dict(lesson="03", kind="recipe", recipe=name, model=name, **image03, steps=p3["STEPS"], runs=1,
                         part=f"{len(trained03)} recipes x {p3['STEPS']:,} steps ({len(trained03) - 1} when the "
                              "sprites are not symmetric)"))
    rows.append(dict(lesson="03", kind="recipe", recipe="dcgan+ema", model="the best recipe, trained on",
                     **image03, steps=p3["MORE_STEPS"], runs=1, part=f"the best recipe, {p3['MORE_STEPS']:,} steps more"))
    toy = dict(image_size=None, channels=2, width=128, latent_dim=2)
    toy_runs = p4["TOY_TARGETS"] * p4["TOY_SEEDS"]
    rows += [
        dict(lesson="04", kind="toy", loss="gan", model="toy GAN (2-D, 3 x 128)", batch_size=512, **toy,
             steps=p4["N_CRITIC"] * p4["TOY_STEPS"], runs=toy_runs,
             part=f"toy runs, {toy_runs} GAN and {toy_runs} WGAN-GP runs of {p4['N_CRITIC'] * p4['TOY_STEPS']:,} steps"),
        dict(lesson="04", kind="toy", loss="wgan-gp", model="toy WGAN-GP (2-D, 3 x 128)", batch_size=512, **toy,
             steps=p4["N_CRITIC"] * p4["TOY_STEPS"], runs=toy_runs,
             part=f"toy runs, {toy_runs} GAN and {toy_runs} WGAN-GP runs of {p4['N_CRITIC'] * p4['TOY_STEPS']:,} steps"),
        dict(lesson="04", kind="critic", loss="wgan", model="critic alone, clipped (2-D)", batch_size=256, **toy,
             steps=p4["CRITIC_STEPS"], runs=1, part=f"two critics alone, {p4['CRITIC_STEPS']:,} steps each"),
        dict(lesson="04", kind="critic", loss="wgan-gp", model="critic alone, penalty (2-D)", batch_size=256, **toy,
             steps=p4["CRITIC_STEPS"], runs=1, part=f"two critics alone, {p4['CRITIC_STEPS']:,} steps each"),
    ]
    image04 = dict(image_size=p4["IMAGE_SIZE"], channels=3, width=32, batch_size=64, latent_dim=100)
    rows += [dict(lesson="04", kind=kind, model=model, **image04, steps=p4["IMAGE_STEPS"], runs=p4["IMAGE_SEEDS"],
                  part=f"sprites, WGAN-GP and DCGAN, {p4['IMAGE_SEEDS']} seeds x {p4['IMAGE_STEPS']:,} steps each")
             for kind, model in (("wgan-gp", "WGAN-GP (n_critic 5)"), ("gan", "DCGAN"))]
    for what, calls, latents, with_d in lesson05_searches(p5):
        rows.append(dict(lesson="05", kind="search", with_discriminator=with_d,
                         model="search, G and D" if with_d else "search, G only (lambda 0)",
                         image_size=64, channels=3, width=64, batch_size=latents, latent_dim=100,
                         steps=p5["STEPS"], runs=calls, unit="search steps",
                         part=f"{what}: {calls} x {p5['STEPS']:,} steps of {latents:,} latents"))
    rows.append(dict(lesson="05", kind="recipe", recipe="dcgan+ema+r1", optional=True,  # recipes.CPU_RECIPE
                     model="own DCGAN (no lesson 02 run)", image_size=32, channels=1, width=32, batch_size=32,
                     latent_dim=100, steps=p5["TRAIN_STEPS"], runs=1,
                     part=f"only without lesson 02's networks: its own DCGAN on LFW, {p5['TRAIN_STEPS']:,} steps "
                          "(then the searches cost far less: 32x32 grey networks)"))
    for conditioning, model in (("concat", "concat"), ("projection", "projection"), ("acgan", "AC-GAN")):
        rows.append(dict(lesson="06", kind="conditional", conditioning=conditioning, model=model,
                         image_size=p6["IMAGE_SIZE"], channels=1, width=p6["WIDTH"], batch_size=64, latent_dim=64,
                         steps=p6["STEPS"], runs=1, part=f"3 variants x {p6['STEPS']:,} steps"))
    rows.append(dict(lesson="07", kind="recipe", recipe="dcgan+ema+r1", model="dcgan+ema+r1 (CPU_RECIPE)",
                     image_size=p7["IMAGE_SIZE"], channels=3, width=p7["WIDTH"], batch_size=p7["BATCH_SIZE"],
                     latent_dim=100, steps=None, wall_seconds=p7["WALL_SECONDS"], runs=1,
                     part=f"dcgan+ema+r1, {p7['WALL_SECONDS'] // 60} min of wall time"))
    return rows


#: The runs of each lesson at its gpu preset (the notebooks' parameters cells).
LESSONS = _rows()

TITLES = {"02": "DCGAN on CelebA faces", "03": "Pokemon sprites, recipes", "04": "WGAN-GP",
          "05": "Inpainting (with lesson 02's CelebA GAN)", "06": "Conditional GANs on MNIST",
          "07": "Your own images (OpenMoji)"}


def build(entry):
    """The lesson's GAN, compiled and trained one step (its variables, optimizers' included,
    exist), and the ``tf.TensorSpec`` (or pair of them) of one full batch for tracing."""
    import keras
    import numpy as np
    import tensorflow as tf

    from ganlib import augment, models, recipes, toy
    from ganlib.conditional import ConditionalGAN
    from ganlib.train import GAN, WGAN, WGANGP

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
    elif kind == "toy":  # lesson 04's toy_networks and train_toy_gan's model
        generator = toy.toy_generator(2, 2, hidden_units=width, hidden_layers=3, activation="relu", seed=0)
        critic = toy.toy_discriminator(2, hidden_units=width, hidden_layers=3, activation="relu", seed=1)
        gan = (WGANGP(generator, critic, 2, n_critic=GPU["04"]["N_CRITIC"], gp_weight=1.0, seed=0)
               if entry["loss"] == "wgan-gp" else GAN(generator, critic, 2, seed=0))
    elif kind == "critic":  # lesson 04's critic alone: a fixed generator, n_critic = all the steps
        noise = keras.Input((2,))
        fixed = keras.Model(noise, keras.layers.Identity()(noise))
        critic = toy.toy_discriminator(2, hidden_units=width, hidden_layers=3, activation="relu", seed=3)
        model_class = WGANGP if entry["loss"] == "wgan-gp" else WGAN
        gan = model_class(fixed, critic, latent_dim=2, n_critic=entry["steps"] + 1, seed=0)
    else:  # lesson 06's build_conditional_gan
        generator = models.conditional_dcgan_generator(latent, 10, size, channels, width=width)
        discriminator = models.conditional_dcgan_discriminator(10, size, channels, width=width,
                                                               conditioning=entry["conditioning"])
        gan = ConditionalGAN(generator, discriminator, latent, 10, conditioning=entry["conditioning"],
                             augment=augment.DiffAugment("translation,cutout", seed=0), ema_decay=0.999, seed=0)
    if not getattr(gan, "compiled", False):
        gan.compile()
    shape = (size, size, channels) if size else (channels,)
    examples = np.random.default_rng(0).uniform(-1, 1, (2, *shape)).astype(np.float32)
    if kind == "conditional":
        labels = np.array([0, 1], np.int32)
        small = tf.data.Dataset.from_tensor_slices((examples, labels)).batch(2)
        spec = (tf.TensorSpec((entry["batch_size"], *shape), tf.float32),
                tf.TensorSpec((entry["batch_size"],), tf.int32))
    else:
        small = tf.data.Dataset.from_tensor_slices(examples).batch(2)
        spec = tf.TensorSpec((entry["batch_size"], *shape), tf.float32)
    gan.fit(small, epochs=1, verbose=0)  # creates every variable (optimizers included)
    return gan, spec


#: Operations that launch no kernel of their own (bookkeeping, constants, shapes).
_NOT_KERNELS = {"Const", "Identity", "IdentityN", "NoOp", "Placeholder", "ReadVariableOp", "VarHandleOp",
                "Shape", "StopGradient", "Reshape", "Pack", "StridedSlice"}


def _graph_flops(graph, options, weight_of, counts):
    """FLOPs and kernel launches of ``graph`` plus, for each ``tf.cond`` in it (the profiler skips
    their branches), its true branch x ``weight_of(op)`` + its false branch x (1 - that)."""
    from tensorflow.python.profiler import model_analyzer

    total = float(model_analyzer.profile(graph=graph, options=options).total_float_ops)
    launches = 0.0
    for op in graph.get_operations():
        if op.type not in _NOT_KERNELS:
            launches += 1
        if op.type in ("If", "StatelessIf"):
            counts["conds"] += 1
            weight = weight_of(op)
            for key, share in (("then_branch", weight), ("else_branch", 1.0 - weight)):
                branch = graph._get_function(op.get_attr(key).name).graph
                flops, kernels = _graph_flops(branch, options, weight_of, counts)
                total += share * flops
                launches += share * kernels
    return total, launches


def _profile(concrete, weight_of=lambda op: 1.0):
    """(FLOPs, kernel launches, number of tf.conds) of a traced function."""
    from tensorflow.python.profiler import option_builder

    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    counts = {"conds": 0}
    flops, launches = _graph_flops(concrete.graph, options, weight_of, counts)
    return flops, launches, counts["conds"]


def step_flops(gan, spec):
    """FLOPs and kernel launches of one ``train_step`` on a full batch, averaged over steps, and
    the number of ``tf.cond``: the generator's update, which a GAN with ``d_steps`` > 1 (WGAN-GP)
    makes in a ``tf.cond`` on every ``d_steps``-th step, counts 1/d_steps; a lazy R1 penalty, in a
    ``tf.cond`` on every ``r1_every``-th step (its forward and gradient conds return values, the
    generator's update only a flag), 1/r1_every."""
    import tensorflow as tf

    if isinstance(spec, tuple):
        concrete = tf.function(lambda x, y: gan.train_step((x, y))).get_concrete_function(*spec)
    else:
        concrete = tf.function(lambda x: gan.train_step(x)).get_concrete_function(spec)
    d_steps = max(1, int(getattr(gan, "d_steps", 1)))
    r1_every = max(1, int(getattr(gan, "r1_every", 1))) if getattr(gan, "r1_weight", 0) else 1

    def weight_of(op):  # any other tf.cond (none in these steps but spectral norm's) counts in full
        flag_only = all(output.dtype == tf.bool for output in op.outputs)
        return 1.0 / d_steps if flag_only else 1.0 / r1_every

    return _profile(concrete, weight_of)


def classic_flops(entry):
    """Lesson 03's classic model: FLOPs and launches of one iteration (``d_steps`` D steps and one
    G step, each a ``tf.function`` of its own) and of one D step (the pre-training's)."""
    import numpy as np
    import tensorflow as tf

    from ganlib import classic

    images = np.random.default_rng(0).uniform(0, 1, (64, 28, 28, 4)).astype(np.float32)
    model = classic.ClassicGAN(images, seed=0, batch_size=entry["batch_size"])
    model.pretrain_discriminator(1)
    model._g_step(model.noise(entry["batch_size"]))  # every optimizer variable exists
    batch = entry["batch_size"]
    real = tf.TensorSpec((batch, 28, 28, 4), tf.float32)
    noise = tf.TensorSpec((batch, entry["latent_dim"]), tf.float32)
    d_flops, d_launches, _ = _profile(model._d_step.get_concrete_function(real, noise))
    g_flops, g_launches, _ = _profile(model._g_step.get_concrete_function(noise))
    return d_flops, d_launches, g_flops, g_launches


def search_flops(entry):
    """Lesson 05: FLOPs and launches of one step of the latent search for ``batch_size`` latents
    (``ganlib.inpaint.search_latents``' loop body) with lesson 02's gpu networks, and the memory
    of the activations the backward pass keeps: every layer output of G (and D), float32."""
    import keras
    import numpy as np
    import tensorflow as tf

    from ganlib import inpaint, models

    keras.utils.set_random_seed(0)
    size, latent, batch = entry["image_size"], entry["latent_dim"], entry["batch_size"]
    generator = models.dcgan_generator(latent, size, entry["channels"], width=entry["width"])
    discriminator = models.dcgan_discriminator(size, entry["channels"], width=entry["width"])
    probe = 8  # FLOPs grow linearly with the latents: trace a small batch, scale it
    images = tf.constant(np.zeros((probe, size, size, entry["channels"]), np.float32))
    weights = tf.constant(np.ones((probe, size, size, 1), np.float32))
    z = tf.Variable(np.zeros((probe, latent), np.float32))
    optimizer = keras.optimizers.Adam(0.01)
    optimizer.build([z])
    with_d = entry["with_discriminator"]

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            generated = generator(z, training=False)
            loss = inpaint.contextual_loss(generated, images, weights)
            if with_d:
                loss += 0.1 * inpaint.perceptual_loss(discriminator, generated)
            summed = tf.reduce_sum(loss)
        optimizer.apply_gradients([(tape.gradient(summed, z), z)])
        z.assign(tf.clip_by_value(z, -1.0, 1.0))

    flops, launches, _ = _profile(step.get_concrete_function())
    networks = [generator] + ([discriminator] if with_d else [])
    floats = sum(int(np.prod(layer.output.shape[1:])) for network in networks for layer in network.layers[1:])
    return flops / probe * batch, launches, 4 * floats


def measure(entry):
    """The row with what one unit of it costs: ``flops`` and ``launches`` (kernels not fused by
    XLA) per step (per iteration for the classic model), plus ``extra_flops`` / ``extra_seconds``
    once per run (the classic model's pre-training) and ``memory`` (lesson 05's search)."""
    kind = entry["kind"]
    row = dict(entry, extra_flops=0.0, extra_launches=0.0, python_steps=1, conds=0, memory=None)
    if kind == "classic":
        d_flops, d_launches, g_flops, g_launches = classic_flops(entry)
        row.update(flops=entry["d_steps"] * d_flops + g_flops, launches=entry["d_steps"] * d_launches + g_launches,
                   python_steps=entry["d_steps"] + 1, extra_flops=entry["pretrain"] * d_flops,
                   extra_launches=entry["pretrain"] * d_launches, extra_python_steps=entry["pretrain"],
                   d_flops=d_flops)
    elif kind == "search":
        flops, launches, per_latent_bytes = search_flops(entry)
        row.update(flops=flops, launches=launches, python_steps=0, memory=per_latent_bytes)
    else:
        gan, spec = build(entry)
        flops, launches, conds = step_flops(gan, spec)
        row.update(flops=flops, conds=conds,
                   launches=launches if kind == "toy" else 0.0,       # the toy loop: no XLA
                   python_steps=0 if kind == "toy" else 1)            # Keras fit: FIT_STEP_MS a step
    return row


def step_seconds(row):
    """Expected T4 seconds of one step (iteration) of ``row``: its arithmetic at the assumed
    utilisation, plus its kernel launches and Python-driven steps."""
    return (row["flops"] / (T4_FP32_TFLOPS * 1e12 * UTILISATION_FP32) + row["launches"] * LAUNCH_US * 1e-6
            + row["python_steps"] * FIT_STEP_MS * 1e-3)


def run_seconds(row):
    """Expected T4 seconds of all of ``row``'s steps (runs x steps), its once-per-run extra included."""
    if row.get("wall_seconds"):
        return float(row["wall_seconds"])
    extra = (row["extra_flops"] / (T4_FP32_TFLOPS * 1e12 * UTILISATION_FP32) + row["extra_launches"] * LAUNCH_US * 1e-6
             + row.get("extra_python_steps", 0) * FIT_STEP_MS * 1e-3)
    return row["runs"] * (row["steps"] * step_seconds(row) + extra)


def _duration(seconds) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _round(steps) -> int:
    """A step count estimated from a time, to the hundred (its precision is far lower)."""
    return int(round(steps, -2))


def _gib(size) -> str:
    return f"{size / 2**30:.1f} GiB"


def _preset(row) -> str:
    if row["kind"] in ("toy", "critic"):
        return f"2-D, 3 x {row['width']} ReLU, batch {row['batch_size']}"
    if row["kind"] == "classic":
        return f"28x28x4, batch {row['batch_size']} (+ as many generated)"
    if row["kind"] == "search":
        return f"64x64x3, width 64; {row['batch_size']:,} latents"
    return (f"{row['image_size']}x{row['image_size']}x{row['channels']}, width {row['width']}, "
            f"batch {row['batch_size']}")


def _count(row) -> str:
    unit = row.get("unit", "steps")
    if row.get("wall_seconds"):
        return f"about {_round(row['wall_seconds'] / step_seconds(row)):,} steps in {row['wall_seconds']:,} s (wall)"
    count = f"{row['steps']:,} {unit}"
    return count if row["runs"] == 1 else f"{row['runs']} x {count}"


def table(rows) -> str:
    lines = [
        f"| lesson | run | gpu sizes | GFLOP per step (measured) | T4 ms per step | images/s the data must feed | "
        "steps | expected T4 time |",
        "|---|---|---|---:|---:|---:|---|---:|",
    ]
    for row in rows:
        seconds = step_seconds(row)
        per = "iteration" if row["kind"] == "classic" else "step"
        fed = "-" if row["kind"] in ("search", "classic", "toy", "critic") else f"{row['batch_size'] / seconds:,.0f}"
        expected = _duration(run_seconds(row)) + (" (not counted: only without lesson 02's run)"
                                                  if row.get("optional") else "")
        lines.append(f"| {row['lesson']} | {row['model']} | {_preset(row)} | {row['flops'] / 1e9:,.1f}"
                     f"{' per ' + per if per != 'step' else ''} | {1000 * seconds:,.1f} | {fed} | {_count(row)} | "
                     f"{expected} |")
    return "\n".join(lines)


def totals(rows) -> dict:
    """Expected T4 seconds of each lesson's training (optional rows left out)."""
    out = {}
    for row in rows:
        if not row.get("optional"):
            out[row["lesson"]] = out.get(row["lesson"], 0.0) + run_seconds(row)
    return out


def _parts(mine) -> str:
    """The lesson's runs grouped by ``part`` (in order), each with its expected time."""
    parts = {}
    for row in mine:
        if not row.get("optional"):
            parts[row["part"]] = parts.get(row["part"], 0.0) + run_seconds(row)
    return "; ".join(f"{part}: {_duration(seconds)}" for part, seconds in parts.items())


def notes(rows) -> dict:
    """One line per lesson for its notebook's "What to expect at `gpu`" cell."""
    out = {}
    total = totals(rows)
    for lesson in sorted(total):
        mine = [row for row in rows if row["lesson"] == lesson]
        if lesson == "07":
            row = mine[0]
            text = (f"{_duration(total[lesson])} of training on a Colab T4, a budget of wall-clock time: about "
                    f"{_round(row['wall_seconds'] / step_seconds(row)):,} steps of {1000 * step_seconds(row):.0f} ms "
                    f"({row['flops'] / 1e9:.0f} GFLOP each)")
        elif lesson == "05":
            searches = [row for row in mine if row["kind"] == "search"]
            largest = max(searches, key=lambda row: row["batch_size"])
            latent_steps = sum(row["runs"] * row["steps"] * row["batch_size"] for row in searches)
            flops = sum(row["runs"] * row["steps"] * row["flops"] for row in searches)
            text = (f"about {_duration(total[lesson])} of latent search on a Colab T4 with lesson 02's CelebA "
                    f"networks ({latent_steps / 1e6:.1f} million latent-steps, {flops / 1e15:.1f} PFLOP; the largest "
                    f"batch, {largest['batch_size']:,} latents, keeps about "
                    f"{_gib(largest['batch_size'] * largest['memory'])} of activations)")
        else:
            text = f"about {_duration(total[lesson])} of training on a Colab T4 ({_parts(mine)})"
        out[lesson] = f"Lesson {lesson} at `gpu` (not yet run on a GPU): {text}."
    return out


def main(argv=None) -> int:
    out = Path(argv[0] if argv else Path(__file__).resolve().parents[1] / "docs" / "gpu_estimates.md")
    import tensorflow as tf

    rows = []
    for entry in LESSONS:
        start = time.perf_counter()
        row = measure(entry)
        rows.append(row)
        print(f"lesson {row['lesson']} {row['model']}: {row['flops'] / 1e9:.1f} GFLOP per step, "
              f"{row['launches']:.0f} launches, {row['conds']} tf.cond(s), {1000 * step_seconds(row):.1f} ms, "
              f"{_duration(run_seconds(row))} ({time.perf_counter() - start:.0f} s)", flush=True)
    total = totals(rows)
    lines = notes(rows)
    summary = "\n".join(f"| {lesson} | {TITLES[lesson]} | {_duration(seconds)} |" for lesson, seconds in total.items())
    search_rows = [row for row in rows if row["kind"] == "search"]
    largest = max(search_rows, key=lambda row: row["batch_size"])
    text = f"""# What you should see at `gpu`: expected times on a Colab T4

**Not yet run on a GPU.** Made by `scripts/gpu_estimates.py` on {datetime.date.today().isoformat()}
(TensorFlow {tf.__version__}); run it again after changing a lesson's gpu preset.

At `gpu` every lesson counts its budget in training steps (lesson 07: in wall-clock seconds),
not in CPU seconds: on a GPU the host mostly waits for the device, so a CPU budget would buy an
unknown number of steps in an unknown time. Steps make the time below a plan.

How: each lesson's networks at its `gpu` preset are built as the notebook builds them, and
TensorFlow's profiler counts the floating-point operations of one traced step on a full batch
(forward, backward, gradient penalty, optimizer updates; a multiply-add counts 2). The profiler
skips the branches of a `tf.cond`: the script adds them, weighted by how often they run (the
generator's update that WGAN-GP makes on every 5th step, 1/5; a lazy R1 penalty on every 16th,
1/16). Lesson 05's step is one step of the latent search (generator and discriminator forward,
the gradient back to z, Adam on z), for every latent of one call. Time per step =
FLOPs / ({T4_FP32_TFLOPS} TFLOPS fp32 peak of a T4 x {UTILISATION_FP32:.0%} utilisation) + overheads; all three
numbers after the peak are assumptions:

- **{UTILISATION_FP32:.0%} of the fp32 peak**: small convolutions at batch 64-128 stay far from it.
- **{FIT_STEP_MS:g} ms per step** run from Python (Keras' `fit` with ganlib's per-step callbacks and a
  device sync; the classic model's steps): Keras compiles `fit`'s step with XLA on a GPU, so its
  kernels are few; the host's work per step is not.
- **{LAUNCH_US:g} µs per operation** of a step that XLA does not compile (the toy loop of lesson 04,
  the classic model, the latent search), the operations counted in the traced graph: for the toy
  networks this, not arithmetic, is the time.

Mixed precision (the T4's tensor cores, {T4_FP16_TFLOPS:.0f} TFLOPS peak) would divide the arithmetic by about
{T4_FP16_TFLOPS * UTILISATION_FP16 / (T4_FP32_TFLOPS * UTILISATION_FP32):.1f} at an assumed
{UTILISATION_FP16:.0%} of its peak; ganlib trains in float32. Times exclude tracing, data loading, sample
grids, checkpoints and the metrics. "images/s the data must feed" is the batch size over the step
time: the data pipeline's rate needed to keep the GPU busy (`python -m ganlib bench --data`).

## Each lesson's training on a T4

| lesson | | expected T4 time |
|---|---|---:|
{summary}

{chr(10).join('- ' + line for line in lines.values())}

## Every run

{table(rows)}

## Lesson 05's search

Lesson 05 searches, for every damaged face, `N_CANDIDATES` latent vectors with `STEPS` steps of
Adam, all of one call's faces and candidates in one batch. At `gpu` (lesson 02's 64x64 CelebA
networks) each latent-step costs {largest['flops'] / largest['batch_size'] / 1e9:.2f} GFLOP with the discriminator.
The sizes: {GPU['05']['STEPS']:,} steps (the authors' code release and Amos 2016; the paper's 1,500), {GPU['05']['N_CANDIDATES']}
candidates (ganlib's default), {GPU['05']['N_TEST']} held-out faces per mask. The activations the backward
pass keeps (every layer output of G and D, float32) are about {largest['memory'] / 2**20:.1f} MiB per latent:
{_gib(largest['batch_size'] * largest['memory'])} for the largest call ({largest['batch_size']:,} latents: four masks at once),
within a T4's {T4_MEMORY_GIB:.0f} GiB; TensorFlow's workspace comes on top.

## What this does not know

- The utilisation and the overheads: the only assumptions in the times; a measured T4 step time
  replaces them. Steps of little arithmetic (lesson 04's 32x32 networks and toy runs, lesson 06)
  depend mostly on the overheads.
- The classic model (lesson 03) re-trains its discriminator for 100 steps whenever the
  discriminator's loss exceeds 1: how often is not known before a run (each costs about
  {_duration(GPU['03']['CLASSIC_PRETRAIN'] * next(r for r in rows if r['kind'] == 'classic')['d_flops'] / (T4_FP32_TFLOPS * 1e12 * UTILISATION_FP32) + GPU['03']['CLASSIC_PRETRAIN'] * FIT_STEP_MS * 1e-3)}).
- The data: "images/s the data must feed" above the rate of the data pipeline means the GPU
  waits for data. Streamed sets (CelebA) decode once and then gather uint8 batches
  (`benchmarks/README.md`, data pipeline); sets held in memory from the start (sprites,
  digits) go through `tf.data`'s per-image shuffle, measured at 3,000-14,000 images/s on
  this machine's 2 cores: below what lesson 04 would need.
- Lesson 02's epochs are CelebA's {CELEBA_IMAGES:,} images // {GPU['02']['BATCH_SIZE']} steps each; the faces it
  holds out make them a little fewer. It falls back to 100 LFW faces when CelebA cannot be had;
  lesson 05 then searches with 32x32 grey networks, a small fraction of the time above.
- Lesson 05's Poisson blending, classical fills and metrics run on the CPU and are not counted.
- Lessons 00 and 01 train toy networks on the CPU path's sizes at every preset and are not listed.
"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
