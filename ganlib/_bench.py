"""The DCGAN training benchmark behind ``python -m ganlib bench``.

Two trainers train the *same* networks (``ganlib.models`` DCGAN, 32x32x1 and 64x64x3) on
the same random batches of 64 images:

* ``keras-io``: a plain ``keras.Model`` subclass with a ``train_step`` written the way the
  keras-io DCGAN example does it (real and generated images concatenated into one
  discriminator batch, ``BinaryCrossentropy``, two ``GradientTape`` blocks), compiled with
  Keras' defaults on a CPU (no XLA), in a process with TensorFlow's default settings;
* ``ganlib``: ``ganlib.train.GAN`` with ``compile()``'s defaults, in a process set up
  the way ``import ganlib`` leaves it: with TensorFlow's oneDNN CPU kernels switched on
  (``ganlib/__init__.py``), unless ``TF_ENABLE_ONEDNN_OPTS`` says otherwise.

More variants isolate what makes a difference: ``+xla`` compiles the train step with XLA
(``jit_compile=True``), ``+onednn`` turns on TensorFlow's oneDNN kernels
(``TF_ENABLE_ONEDNN_OPTS=1``, read once when TensorFlow is imported; TensorFlow turns them
on by itself only on CPUs with AVX-512 VNNI/BF16 or AMX) and ``ganlib-onednn`` is ganlib's
trainer with them off, which separates what the kernels give from what the trainer does.
The ``keras-io`` variants run with TensorFlow's own default for this CPU, whatever ganlib
would set.

Each measurement runs in its own process (a fresh TensorFlow, an honest peak memory), with
warm-up steps (tracing and compilation) excluded from the timing; the trainers alternate
so that a busy machine slows both alike. Reported: images per second (wall clock), CPU
seconds per step (less sensitive to other programs on a shared machine), the warm-up time
and the peak resident memory of the process (TensorFlow itself takes about half a GB).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

#: How each named variant sets up TensorFlow and the trainer. ``onednn``: "default" =
#: TensorFlow's own choice for this CPU, "1" = on, "0" = off, None = as ``import ganlib``
#: leaves it (on, unless TF_ENABLE_ONEDNN_OPTS is set in the calling environment).
#: ``jit_compile``: None = the trainer's default (``GAN.compile()``), else forced.
VARIANTS = {
    "keras-io": dict(trainer="plain", jit_compile=False, onednn="default"),
    "keras-io+xla": dict(trainer="plain", jit_compile=True, onednn="default"),
    "keras-io+onednn": dict(trainer="plain", jit_compile=False, onednn="1"),
    "ganlib": dict(trainer="ganlib", jit_compile=None, onednn=None),
    "ganlib+xla": dict(trainer="ganlib", jit_compile=True, onednn=None),
    "ganlib+onednn": dict(trainer="ganlib", jit_compile=None, onednn="1"),
    "ganlib-onednn": dict(trainer="ganlib", jit_compile=None, onednn="0"),
}
DEFAULT_VARIANTS = ("keras-io", "ganlib")
SHAPES = {"32x32x1": (32, 1), "64x64x3": (64, 3)}


def _peak_rss_mb():
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 2 ** 20


def _plain_trainer_class():
    """The keras-io DCGAN pattern ("DCGAN to generate face images", Keras 3 version)."""
    import keras
    import tensorflow as tf

    class PlainGAN(keras.Model):
        def __init__(self, discriminator, generator, latent_dim):
            super().__init__()
            self.discriminator = discriminator
            self.generator = generator
            self.latent_dim = latent_dim
            self.seed_generator = keras.random.SeedGenerator(1337)

        def compile(self, d_optimizer, g_optimizer, loss_fn, **kwargs):
            super().compile(**kwargs)
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            self.loss_fn = loss_fn
            self.d_loss_metric = keras.metrics.Mean(name="d_loss")
            self.g_loss_metric = keras.metrics.Mean(name="g_loss")

        @property
        def metrics(self):
            return [self.d_loss_metric, self.g_loss_metric]

        def train_step(self, real_images):
            batch_size = tf.shape(real_images)[0]
            random_latent_vectors = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
            generated_images = self.generator(random_latent_vectors, training=True)
            combined_images = tf.concat([generated_images, real_images], axis=0)
            labels = tf.concat([tf.zeros((batch_size, 1)), tf.ones((batch_size, 1))], axis=0)
            with tf.GradientTape() as tape:
                predictions = self.discriminator(combined_images, training=True)
                d_loss = self.loss_fn(labels, predictions)
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

            random_latent_vectors = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
            misleading_labels = tf.ones((batch_size, 1))
            with tf.GradientTape() as tape:
                predictions = self.discriminator(self.generator(random_latent_vectors, training=True), training=True)
                g_loss = self.loss_fn(misleading_labels, predictions)
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
            self.d_loss_metric.update_state(d_loss)
            self.g_loss_metric.update_state(g_loss)
            return {"d_loss": self.d_loss_metric.result(), "g_loss": self.g_loss_metric.result()}

    return PlainGAN


def worker(variant, shape, batch_size, steps, warmup, width, seed=0):
    """Run one measurement in this process and return a dict of results."""
    import numpy as np

    setting = VARIANTS[variant]
    start = time.perf_counter()
    import keras
    import tensorflow as tf

    from ganlib import models, onednn_enabled
    from ganlib.train import GAN, dcgan_adam

    keras.utils.set_random_seed(seed)
    image_size, channels = SHAPES[shape]
    latent_dim = 100
    generator = models.dcgan_generator(latent_dim, image_size, channels, width=width)
    discriminator = models.dcgan_discriminator(image_size, channels, width=width)
    if setting["trainer"] == "plain":
        model = _plain_trainer_class()(discriminator, generator, latent_dim)
        model.compile(
            d_optimizer=dcgan_adam(),
            g_optimizer=dcgan_adam(),
            loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
            jit_compile=setting["jit_compile"],
        )
    else:
        model = GAN(generator, discriminator, latent_dim, seed=seed)
        if setting["jit_compile"] is None:
            model.compile()
        else:
            model.compile(jit_compile=setting["jit_compile"])
    images = np.random.default_rng(seed).uniform(-1, 1, (batch_size * 4, image_size, image_size, channels))
    dataset = (tf.data.Dataset.from_tensor_slices(images.astype("float32"))
               .batch(batch_size, drop_remainder=True).cache().repeat().prefetch(2))
    rss_before = _peak_rss_mb()
    setup_seconds = time.perf_counter() - start

    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=warmup, epochs=1, verbose=0, shuffle=False)
    warmup_seconds = time.perf_counter() - start
    cpu_start, start = time.process_time(), time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return {
        "variant": variant,
        "shape": shape,
        "batch_size": batch_size,
        "steps": steps,
        "width": width,
        "images_per_second": batch_size * steps / wall,
        "wall_seconds_per_step": wall / steps,
        "cpu_seconds_per_step": cpu / steps,
        "warmup_seconds": warmup_seconds,
        "setup_seconds": setup_seconds,
        "peak_rss_mb": _peak_rss_mb(),
        "rss_before_training_mb": rss_before,
        "onednn": onednn_enabled(),
        "xla": bool(model.jit_compile),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


_PROBE = ("import os; os.environ.pop('TF_ENABLE_ONEDNN_OPTS', None); "
          "from tensorflow.python.util import _pywrap_util_port as p; print(int(p.IsMklEnabled()))")


def tensorflow_default_onednn():
    """'1' or '0': whether TensorFlow turns oneDNN on by itself on this CPU (ganlib not imported)."""
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    environment.pop("TF_ENABLE_ONEDNN_OPTS", None)
    result = subprocess.run([sys.executable, "-c", _PROBE], env=environment, capture_output=True, text=True)
    lines = result.stdout.split()
    return lines[-1] if lines and lines[-1] in ("0", "1") else "0"


def _run_worker(variant, shape, batch_size, steps, warmup, width, default_onednn="0"):
    environment = dict(os.environ)
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    onednn = VARIANTS[variant]["onednn"]
    if onednn is None:
        environment.pop("TF_ENABLE_ONEDNN_OPTS", None)  # whatever `import ganlib` does
    else:
        environment["TF_ENABLE_ONEDNN_OPTS"] = default_onednn if onednn == "default" else onednn
    command = [sys.executable, "-m", "ganlib._bench", "--worker", variant, shape, str(batch_size), str(steps),
               str(warmup), str(width)]
    result = subprocess.run(command, env=environment, capture_output=True, text=True)
    for line in reversed(result.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"benchmark worker failed ({variant}, {shape}):\n{result.stderr[-3000:]}")


def _spread(values, digits=1):
    values = sorted(values)
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:.{digits}f}"
    return f"{median:.{digits}f} [{values[0]:.{digits}f}-{values[-1]:.{digits}f}]"


def run(shapes=tuple(SHAPES), variants=DEFAULT_VARIANTS, batch_size=64, steps=10, warmup=3, repeats=3,
        width=64, json_path=None, echo=print):
    """Measure every variant on every shape ``repeats`` times; print and return the results."""
    for variant in variants:
        if variant not in VARIANTS:
            raise ValueError(f"variant={variant!r} is not known; use one of {', '.join(VARIANTS)}.")
    for shape in shapes:
        if shape not in SHAPES:
            raise ValueError(f"shape={shape!r} is not known; use one of {', '.join(SHAPES)}.")
    echo(f"DCGAN training throughput, batch {batch_size}, width {width} (ngf = ndf), {steps} timed steps "
         f"after {warmup} warm-up steps, {repeats} runs each, {os.cpu_count()} CPU cores visible.")
    default_onednn = tensorflow_default_onednn()
    echo(f"TensorFlow's own oneDNN setting on this CPU: {'on' if default_onednn == '1' else 'off'}. "
         + (f"Load average at the start: {os.getloadavg()[0]:.1f} (other programs share the CPU)."
            if hasattr(os, "getloadavg") else ""))
    results = []
    for shape in shapes:
        for repeat in range(repeats):
            order = list(variants) if repeat % 2 == 0 else list(reversed(variants))
            for variant in order:
                outcome = _run_worker(variant, shape, batch_size, steps, warmup, width, default_onednn)
                outcome["load_average"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
                results.append(outcome)
                echo(f"  {shape} {variant:16s} run {repeat + 1}: {outcome['images_per_second']:7.1f} images/s, "
                     f"{outcome['cpu_seconds_per_step']:.2f} CPU s/step, warm-up {outcome['warmup_seconds']:.0f} s, "
                     f"peak {outcome['peak_rss_mb']:.0f} MB (oneDNN {'on' if outcome['onednn'] else 'off'}, "
                     f"XLA {'on' if outcome['xla'] else 'off'}, load {outcome['load_average']:.1f})")
    echo("")
    echo(f"{'shape':8s} {'trainer':16s} {'images/s (median [min-max])':>30s} {'CPU s/step':>20s} "
         f"{'warm-up s':>10s} {'peak MB':>8s}")
    summary = {}
    for shape in shapes:
        for variant in variants:
            rows = [r for r in results if r["shape"] == shape and r["variant"] == variant]
            summary[(shape, variant)] = {
                "images_per_second": statistics.median(r["images_per_second"] for r in rows),
                "cpu_seconds_per_step": statistics.median(r["cpu_seconds_per_step"] for r in rows),
            }
            echo(f"{shape:8s} {variant:16s} {_spread([r['images_per_second'] for r in rows]):>30s} "
                 f"{_spread([r['cpu_seconds_per_step'] for r in rows], 2):>20s} "
                 f"{statistics.median(r['warmup_seconds'] for r in rows):10.0f} "
                 f"{max(r['peak_rss_mb'] for r in rows):8.0f}")
    baseline = variants[0]
    for shape in shapes:
        for variant in variants[1:]:
            wall = summary[(shape, variant)]["images_per_second"] / summary[(shape, baseline)]["images_per_second"]
            cpu = summary[(shape, baseline)]["cpu_seconds_per_step"] / summary[(shape, variant)]["cpu_seconds_per_step"]
            echo(f"{shape}: {variant} vs {baseline}: {wall:.2f}x images/s (wall clock), {cpu:.2f}x less CPU time per step")
    if json_path:
        with open(json_path, "w") as handle:
            json.dump(results, handle, indent=1)
    return results


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        variant, shape, batch_size, steps, warmup, width = argv[1:7]
        print(json.dumps(worker(variant, shape, int(batch_size), int(steps), int(warmup), int(width))))
        return 0
    run()
    return 0


if __name__ == "__main__":
    sys.exit(main())


# --- Time to quality: each recipe of lesson 03 against CPU seconds (bench --quality) -----

#: Lesson 03's sizes at the cpu preset (kept in step with its parameters cell).
QUALITY_DEFAULTS = dict(image_size=16, width=32, batch_size=64, cpu_seconds=600.0,
                        milestones=(150.0, 300.0), count=4000, n_eval=800)

def _sample(gan, count, seed):
    import numpy as np

    z = np.random.default_rng(seed).standard_normal((count, gan.latent_dim)).astype(np.float32)
    images = [np.asarray(gan.sampling_generator(z[i:i + 256], training=False)) for i in range(0, count, 256)]
    return np.concatenate(images)


def _quality_data(data, image_size, count, seed):
    """(name, train, held_out) uint8->float arrays of the benchmark's data set."""
    import numpy as np

    from . import data as ganlib_data

    if data == "emoji":
        # one drawing per emoji: with the skin tones, the C2ST's own half/half split puts
        # recolourings of one drawing on both sides and real-vs-real scores 0.65-0.69, not 0.5
        images = ganlib_data.load_emoji(image_size=image_size, skin_tones=False, verbose=False)
        # one split for every seed and recipe: all are measured against the same held-out images
        train_set, held_out_set = images.split(held_out=0.25, seed=0)
        return "OpenMoji emoji", train_set.numpy(), held_out_set.numpy()
    if data == "faces":
        # the 100 grey faces of scikit-image's LFW subset (lesson 02's offline data): 20 held
        # out, chosen by ``seed`` (--seed), the same faces for every run of --seeds; the training
        # faces are doubled by their mirror images (lesson 02 flips its batches at random: the same
        # in expectation)
        faces = ganlib_data.load_faces(image_size=image_size, channels=1, source="lfw", verbose=False)
        train_set, held_out_set = faces.split(held_out=0.2, seed=seed)
        train = train_set.numpy()
        return "LFW faces (grey)", np.concatenate([train, train[:, :, ::-1]]), held_out_set.numpy()
    sprites = ganlib_data.load_sprites(image_size=image_size, source="procedural", count=count, seed=seed,
                                       verbose=False)
    train_set, held_out_set = sprites.split(held_out=0.25, seed=seed)
    return "sprites", train_set.numpy(), held_out_set.numpy()


def quality(recipe_names=None, cpu_seconds=600.0, milestones=(75.0, 150.0, 300.0), image_size=32,
            count=4000, width=32, batch_size=32, n_eval=1000, seed=0, json_path=None, plot_path=None,
            data="sprites", seeds=None):
    """Train each recipe of ``ganlib.recipes`` for ``cpu_seconds`` of CPU time, pausing at
    ``milestones`` to measure the averaged generator's samples against held-out images (SWD,
    C2ST accuracy, precision, recall, mirror symmetry, and D's mean output on real and
    generated images over the last 100 steps), and print one table, a real-against-real
    floor row first. Returns the rows.

    ``data``: 'sprites' (the procedural sprites, split 75/25 with ``seed``), 'emoji'
    (``data.load_emoji(skin_tones=False)``, one drawing per emoji: 1,845 training and 615
    held-out images, one split for all runs) or 'faces' (the 100 grey LFW faces of lesson 02,
    20 held out, chosen by ``seed`` and the same for every run of ``seeds``, the 80 others and
    their mirror images for training; with 20
    images per set a C2ST has a 95% interval of about +-0.3, so compare means over seeds).
    ``seeds``: train every recipe once per seed (default: ``(seed,)``) and end with a summary
    of mean and spread (sample standard deviation) over the seeds at each milestone.

    The last lines state, for the last recipe, the CPU seconds it needed to reach the best
    mean C2ST accuracy the first recipe (the baseline) reached in the whole budget, as a ratio.
    """
    import numpy as np

    from . import metrics, recipes

    names = list(recipe_names or recipes.RECIPES)
    for name in names:
        recipes.get_recipe(name)
    seeds = [seed] if seeds is None else [int(s) for s in seeds]
    data_name, train, held_out = _quality_data(data, image_size, count, seed)
    n_eval = min(n_eval, len(held_out))

    def measure(images):
        row = metrics.image_metrics(held_out[:n_eval], images[:n_eval], seed=seed)
        row["symmetry"] = float(metrics.mirror_symmetry(images[:n_eval]))
        row["checkerboard"] = metrics.checkerboard_ratio(images[:n_eval])
        return row

    # the floor: as many training images as samples, drawn at random (a data set's order is
    # often by name or class, so its first images are not a sample of it)
    floor_images = train[np.random.default_rng(seed).permutation(len(train))[:n_eval]]
    rows = [{"recipe": "real (held-out vs training)", "seed": None, "steps": 0, "cpu_seconds": 0.0,
             **measure(floor_images)}]
    print(f"{data_name} {image_size}x{image_size}: {len(train)} training, {len(held_out)} held out; width {width}, "
          f"batch {batch_size}, seeds {', '.join(map(str, seeds))}; metrics on {n_eval} held-out images and "
          "as many samples of the averaged generator where there is one")
    print(f"{'recipe':<28} {'seed':>4} {'CPU s':>6} {'steps':>6} {'SWD':>7} {'C2ST':>6} {'prec':>5} {'recall':>6} "
          f"{'sym':>5} {'check':>5} {'D(x)':>5} {'D(G)':>5}")

    def show(row):
        d_real, d_fake = (f"{row[k]:5.2f}" if k in row else "    -" for k in ("d_real", "d_fake"))
        print(f"{row['recipe']:<28} {'-' if row['seed'] is None else row['seed']:>4} {row['cpu_seconds']:6.0f} "
              f"{row['steps']:6d} {row['swd']:7.4f} {row['c2st_accuracy']:6.3f} {row['precision']:5.2f} "
              f"{row['recall']:6.2f} {row['symmetry']:5.2f} {row['checkerboard']:5.2f} {d_real} {d_fake}"
              + (f" p {row['augment_p']:.2f}" if "augment_p" in row else ""), flush=True)

    def evaluate(gan, run_seed):
        """The averaged generator's samples; with batch norm also with the live generator's
        copied statistics instead of its standing ones (the same weights, paired)."""
        copied = None
        if gan.ema_generator is not None and gan.standing_statistics and any(
                isinstance(layer, keras.layers.BatchNormalization) for layer in gan.ema_generator.layers):
            gan.standing_statistics = False
            copied = measure(_sample(gan, n_eval, run_seed + 1))
            gan.standing_statistics = True
        return {**measure(_sample(gan, n_eval, run_seed + 1)), **({"copied": copied} if copied else {})}

    import keras

    show(rows[0])
    shown_names = list(names)
    for run_seed in seeds:
        for name in names:
            result = recipes.train_for_cpu_seconds(
                name, train, cpu_seconds, batch_size=batch_size, width=width, seed=run_seed,
                milestones=milestones, evaluate=lambda gan: evaluate(gan, run_seed))
            for number, evaluation in enumerate(result["evaluations"]):
                copied = evaluation.pop("copied", None)
                row = {"recipe": name, "seed": run_seed, "milestone": number, **evaluation}
                rows.append(row)
                show(row)
                if copied is not None:
                    variant = f"{name} (copied BN)"
                    if variant not in shown_names:
                        shown_names.insert(shown_names.index(name), variant)
                    row = {**row, "recipe": variant, **copied}
                    rows.append(row)
                    show(row)
    names = shown_names
    summary = _quality_summary(rows[1:], names)
    if len(seeds) > 1:
        print(f"\nmean +- standard deviation over {len(seeds)} seeds (floor: C2ST {rows[0]['c2st_accuracy']:.3f}, "
              f"precision {rows[0]['precision']:.2f}, recall {rows[0]['recall']:.2f})")
        print(f"{'recipe':<28} {'CPU s':>6} {'C2ST':>13} {'precision':>11} {'recall':>11} {'D(G)':>11}")
        for item in summary:
            print(f"{item['recipe']:<28} {item['cpu_seconds']:6.0f} "
                  + " ".join(f"{item[k][0]:{w - 6}.{d}f} +- {item[k][1]:.{d}f}".rjust(w)
                             for k, w, d in (("c2st_accuracy", 13, 3), ("precision", 11, 2),
                                             ("recall", 11, 2), ("d_fake", 11, 2)) if k in item))
    first, last = names[0], names[-1]
    first_rows = [item for item in summary if item["recipe"] == first]
    last_rows = [item for item in summary if item["recipe"] == last]
    if first != last and first_rows and last_rows:
        best = min(first_rows, key=lambda item: item["c2st_accuracy"][0])
        target = best["c2st_accuracy"][0]
        reached = next((item for item in last_rows if item["c2st_accuracy"][0] <= target), None)
        print(f"{first}: best mean C2ST {target:.3f} at {best['cpu_seconds']:.0f} CPU s.")
        if target >= 0.99:  # a classifier (almost) always right: nothing worth reaching
            print(f"{first} never got below C2ST 0.99, so no time to reach it is given.")
        elif reached is None:
            print(f"{last} did not reach it within {cpu_seconds:.0f} CPU s.")
        else:
            ratio = best["cpu_seconds"] / reached["cpu_seconds"]
            print(f"{last} reached mean C2ST {reached['c2st_accuracy'][0]:.3f} <= that at "
                  f"{reached['cpu_seconds']:.0f} CPU s: " + (f"{ratio:.1f}x less CPU time." if ratio > 1 else
                                                             "no sooner than the baseline."))
    if json_path:
        with open(json_path, "w") as handle:
            json.dump({"rows": rows, "summary": summary} if len(seeds) > 1 else rows, handle, indent=1)
    if plot_path:
        _plot_quality(rows, names, plot_path)
    return rows


def _quality_summary(rows, names):
    """Mean and sample standard deviation over seeds of each recipe at each milestone."""
    import numpy as np

    summary = []
    for name in names:
        mine = [row for row in rows if row["recipe"] == name]
        for number in sorted({row.get("milestone", 0) for row in mine}):
            at = [row for row in mine if row.get("milestone", 0) == number]
            item = {"recipe": name, "milestone": number, "runs": len(at),
                    "cpu_seconds": float(np.mean([row["cpu_seconds"] for row in at]))}
            for key in ("c2st_accuracy", "precision", "recall", "swd", "checkerboard", "d_real", "d_fake",
                        "augment_p"):
                values = [row[key] for row in at if key in row]
                if values:
                    item[key] = (float(np.mean(values)),
                                 float(np.std(values, ddof=1)) if len(values) > 1 else 0.0)
            summary.append(item)
    return summary


def _plot_quality(rows, names, path):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4.2), dpi=90, layout="constrained")
    floor = rows[0]
    summary = _quality_summary(rows[1:], names)
    for name in names:
        mine = [item for item in summary if item["recipe"] == name]
        seconds = [item["cpu_seconds"] for item in mine]
        for axis, key in ((axes[0], "c2st_accuracy"), (axes[1], "swd")):
            axis.errorbar(seconds, [item[key][0] for item in mine], yerr=[item[key][1] for item in mine],
                          fmt="o-", capsize=3, label=name)
    runs = max((item["runs"] for item in summary), default=1)
    spread = f"mean +- sd of {runs} seeds" if runs > 1 else ""
    for axis, key, label in ((axes[0], "c2st_accuracy", "C2ST accuracy (0.5 = indistinguishable)"),
                             (axes[1], "swd", "SWD to held-out images")):
        axis.axhline(floor[key], color="black", linestyle=":", label="real vs real")
        axis.set_xlabel("CPU seconds of training")
        axis.set_ylabel(label, fontsize=8)
        axis.set_title(spread, fontsize=8)
    # below the plots: inside, the legend hid the curves it names
    figure.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=8)
    figure.savefig(path)
    plt.close(figure)


# --- Data pipeline speed: a CelebA-like folder through ImageSet.pipeline (bench --data) ----

#: CelebA's aligned faces are 178x218 JPEGs, cropped to 108 and resized to 64 for DCGAN
#: (carpedm20/DCGAN-tensorflow); the per-file pipeline streamed 4,000 of them at 775 images/s.
DATA_DEFAULTS = dict(count=4000, image_size=64, crop=108, batch_size=128, epochs=3)
CELEBA_FILE_SIZE = (178, 218)


def make_celeba_like(folder, count=4000, seed=0, size=CELEBA_FILE_SIZE, quality=90):
    """Write ``count`` JPEGs of 178x218 pixels (smooth colour fields with grain, about the
    7 KB a CelebA file takes: 1.44 GB for 202,599) into ``folder``; returns the folder. Files already there with
    the right names are kept."""
    import numpy as np
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    width, height = size
    grain = rng.integers(-4, 5, (16, height, width, 3), dtype=np.int16)
    for index in range(count):
        path = os.path.join(folder, f"{index + 1:06d}.jpg")  # CelebA's names: 000001.jpg ...
        coarse = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
        if os.path.exists(path):
            continue
        smooth = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))
        pixels = np.clip(smooth.astype(np.int16) + grain[index % 16], 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(path, quality=quality)
    return folder


def _consume(dataset):
    """Read every batch of ``dataset`` inside a tf.function, as ``fit`` does (no copy to Python)."""
    import tensorflow as tf

    @tf.function
    def read_all(batches):
        total = tf.constant(0.0)
        count = tf.constant(0, tf.int64)
        for batch in batches:
            total += tf.cast(batch[0, 0, 0, 0], tf.float32)
            count += tf.cast(tf.shape(batch)[0], tf.int64)
        return count, total

    return read_all


def _timed(function, *args):
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - start_wall, time.process_time() - start_cpu


def data_pipeline(count=4000, image_size=64, crop=108, batch_size=128, epochs=3, folder=None, seed=0,
                  json_path=None, verbose=True):
    """Images per second of ``ImageSet.pipeline`` on a CelebA-like folder, against the limit.

    Writes ``count`` CelebA-like JPEGs (:func:`make_celeba_like`; into a temporary folder
    unless ``folder`` is given), reads them as a streamed set (``load_folder(in_memory=False)``,
    as CelebA is) at ``image_size`` after a centred ``crop``, and reads ``epochs`` epochs of
    float32 batches (in a ``tf.function``, as ``fit`` does) for each way of keeping them:

    * ``before``: the per-file path this pipeline replaced (Pillow's general decoder through
      ``ImageSet.dataset``, decoded again every epoch: 775 images/s);
    * ``memory``: decoded once into uint8 in memory, gathered and converted per batch;
    * ``disk``: the same with the uint8 pixels in a ``.npy`` cache file (what sets too big for
      memory use), and ``disk, next run``: a new set that maps the finished file;
    * ``in memory from the start``: a set decoded when loaded (small sets: sprites, LFW),
      whose pipeline shuffles single images in ``tf.data``;

    * ``uint8 batches``: the same stores with ``dtype='uint8'`` (pixels converted in the train
      step), read as above and as ``fit_gan`` reads (``one stream``: one iterator of the
      repeated pipeline, no new iterator per epoch);

    beside the limits of this machine in the same run: a NumPy gather of random uint8
    batches from memory (measured three times, around the uint8 rows; the ratios are to the
    median), and the same gather converted to float32 in [-1, 1].
    Reported per row: images/s by the wall clock and per CPU second (the process's CPU
    time, all threads; steadier on a shared machine), and the ratio to the uint8 limit.
    """
    import gc
    import shutil
    import tempfile

    import numpy as np
    import tensorflow as tf

    from .data import from_uint8
    from .data.files import _Decoder
    from .data.imageset import ImageSet, load_folder, training_pipeline

    own_folder = folder is None
    root = tempfile.mkdtemp(prefix="ganlib-bench-data-")
    folder = folder or os.path.join(root, "celeba_like")
    try:
        load_start = os.getloadavg()[0]
        _, seconds, _ = _timed(make_celeba_like, folder, count, seed)
        if verbose:
            print(f"bench --data: {count} CelebA-like JPEGs of {CELEBA_FILE_SIZE[0]}x{CELEBA_FILE_SIZE[1]} in "
                  f"{folder} ({seconds:.0f} s to write), read at {image_size}x{image_size} after a "
                  f"{crop}x{crop} crop, batches of {batch_size}, {epochs} epochs; "
                  f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}", flush=True)
        rows = []

        def timed_epochs(name, read, epochs_to_time, first_label, later_label):
            """Time ``epochs_to_time`` epochs of ``read()``, one after the other."""
            def one(label):
                (images, _), wall, cpu = _timed(read)
                images = int(images)
                rows.append(dict(row=name, epoch=label, images=images, wall_s=wall, cpu_s=cpu,
                                 per_s=images / wall, per_cpu_s=images / max(cpu, 1e-9)))
                if verbose:
                    print(f"  {name} {label}: {images / wall:,.0f} images/s", flush=True)

            for epoch in range(epochs_to_time):
                one(first_label if epoch == 0 else later_label)

        def measure(name, dataset, epochs_to_time, first_label="epoch 1", later_label="epochs 2+"):
            """A new iterator per epoch (as Keras' fit makes one per epoch of a finite dataset)."""
            reader = _consume(dataset)
            reader.get_concrete_function(dataset)  # trace now: not timed
            timed_epochs(name, lambda: reader(dataset), epochs_to_time, first_label, later_label)

        def measure_stream(name, dataset, epochs_to_time, first_label="epoch 1", later_label="epochs 2+"):
            """One iterator of the repeated pipeline, an epoch of batches per timed call: how
            fit_gan reads it (one stream; a new iterator per epoch costs a set as small as this
            one a large part of an epoch: its shuffle buffer and prefetch start again)."""
            steps = tf.constant(int(dataset.cardinality()), tf.int64)
            iterator = iter(dataset.repeat())

            @tf.function
            def read_epoch(batches, steps):
                total = tf.constant(0.0)
                count = tf.constant(0, tf.int64)
                for _ in tf.range(steps):
                    batch = next(batches)
                    total += tf.cast(tf.reshape(batch, [-1])[0], tf.float32)
                    count += tf.cast(tf.shape(batch)[0], tf.int64)
                return count, total

            read_epoch.get_concrete_function(iterator, steps)  # trace now: not timed
            timed_epochs(name, lambda: read_epoch(iterator, steps), epochs_to_time, first_label, later_label)

        settings = dict(image_size=image_size, crop=crop, in_memory=False, verbose=False)
        streamed = load_folder(folder, **settings)
        before = ImageSet("folder", "before", streamed.image_size, streamed.channels, files=streamed.files,
                          decoder=_Decoder(streamed.image_size, streamed.channels, (crop, crop), "bicubic"))
        measure("before: per-file decode every epoch", training_pipeline(
            before.dataset, batch_size=batch_size, shuffle=False, cache=False), 1)
        measure("memory: decode once, uint8 in memory", streamed.pipeline(batch_size, seed=seed, cache=True),
                epochs)
        cache_file = os.path.join(root, "decoded.npy")
        measure("disk: decode once, uint8 .npy file", load_folder(folder, **settings).pipeline(
            batch_size, seed=seed, cache=cache_file), epochs)
        measure("disk, next run: the finished .npy file", load_folder(folder, **settings).pipeline(
            batch_size, seed=seed, cache=cache_file), 2)

        preloaded = load_folder(folder, **dict(settings, in_memory=True))  # decoded at load: not timed
        measure("in memory from the start (load_folder in_memory=True)", preloaded.pipeline(batch_size, seed=seed),
                epochs, first_label="epochs 1+", later_label="epochs 1+")
        pixels = streamed.decoded_store(True)._pixels
        rng = np.random.default_rng(seed)
        steps = len(pixels) // batch_size

        def numpy_epochs(convert, epochs=epochs):
            for _ in range(epochs):
                order = rng.permutation(len(pixels))
                for step in range(steps):
                    batch = pixels[order[step * batch_size:(step + 1) * batch_size]]
                    if convert:
                        batch = from_uint8(batch)
            return epochs * steps * batch_size

        def limit_row(name, convert, epochs=epochs):
            images, wall, cpu = _timed(numpy_epochs, convert, epochs)
            label = f"{epochs} epochs" if epochs > 1 else f"1 epoch, {4 * (rounds // 2)} times"
            rows.append(dict(row=name, epoch=label, images=images, wall_s=wall, cpu_s=cpu,
                             per_s=images / wall, per_cpu_s=images / max(cpu, 1e-9)))

        # uint8 batches (dtype='uint8', converted in the train step). On a shared machine the
        # NumPy gather itself varies up to 10x from one epoch to the next, so each uint8 row is
        # read right after epochs of the limit, the limit taken as the median of them all. A
        # stream is read in one block and then dropped: a live iterator keeps filling its
        # prefetch buffer in the background, which would slow the limit and flatter its row.
        uint8_limit = "limit: NumPy gather of uint8 batches"
        rounds = max(10, 3 * epochs)
        readers = [
            ("memory, uint8 batches (dtype='uint8'), new iterator per epoch", "epochs 2+", measure,
             lambda: streamed.pipeline(batch_size, seed=seed, cache=True, dtype="uint8")),
            ("memory, uint8 batches, one stream as fit_gan reads", "epochs 2+", measure_stream,
             lambda: streamed.pipeline(batch_size, seed=seed, cache=True, dtype="uint8")),
            ("disk, next run, uint8 batches, one stream", "epoch 1", measure_stream,
             lambda: load_folder(folder, **settings).pipeline(batch_size, seed=seed, cache=cache_file,
                                                              dtype="uint8")),
            ("in memory from the start, uint8 batches, one stream", "epochs 1+", measure_stream,
             lambda: preloaded.pipeline(batch_size, seed=seed, dtype="uint8")),
        ]
        for name, first, how, make in readers:
            for _ in range(rounds // 2):
                limit_row(uint8_limit, False, epochs=1)
            later = "epochs 1+" if first == "epochs 1+" else "epochs 2+"
            how(name, make(), 1 + rounds, first_label=first, later_label=later)
            gc.collect()  # the stream's iterator goes, and its prefetching with it
        limit_row("limit: NumPy gather + float32 [-1, 1]", True)
        limits = [row for row in rows if row["row"] == uint8_limit]
        limit = dict(per_s=float(np.median([row["per_s"] for row in limits])),
                     per_cpu_s=float(np.median([row["per_cpu_s"] for row in limits])))
        for row in rows:
            row["of_limit"] = row["per_s"] / limit["per_s"]
            row["of_limit_cpu"] = row["per_cpu_s"] / limit["per_cpu_s"]
        table = _data_table(rows)
        load = [load_start, os.getloadavg()[0]]
        if verbose:
            print(table)
            print(f"load average {load[0]:.1f} at the start, {load[1]:.1f} at the end")
        if json_path:
            with open(json_path, "w", encoding="utf-8") as handle:
                json.dump(dict(settings=dict(count=count, image_size=image_size, crop=crop, batch_size=batch_size,
                                             epochs=epochs, cpu_count=os.cpu_count(), load_average=load,
                                             tensorflow=tf.__version__), rows=rows), handle, indent=1)
        return rows
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if not own_folder:
            pass  # a folder the caller gave is theirs


def _data_table(rows):
    """Rows of data_pipeline() as a Markdown table; later epochs as their median."""
    import statistics

    merged = {}
    for row in rows:
        merged.setdefault((row["row"], row["epoch"]), []).append(row)
    lines = ["| pipeline | epoch | images/s (wall) | x NumPy uint8 limit | images per CPU s | x limit (CPU) |",
             "|---|---|---:|---:|---:|---:|"]
    for (name, epoch), group in merged.items():
        per_s = statistics.median(r["per_s"] for r in group)
        per_cpu = statistics.median(r["per_cpu_s"] for r in group)
        of_limit = statistics.median(r["of_limit"] for r in group)
        of_limit_cpu = statistics.median(r["of_limit_cpu"] for r in group)
        lines.append(f"| {name} | {epoch} | {per_s:,.0f} | {of_limit:.2f} | {per_cpu:,.0f} | {of_limit_cpu:.2f} |")
    return "\n".join(lines)
