"""The command line: `python -m ganlib --help`.

Each subcommand lives in its own function ``cmd_<name>(args)`` registered in
``build_parser``; user errors (bad options, missing data) print one line and exit 2.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m ganlib",
        description="ganlib: train, sample and measure GANs from the command line.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    info = sub.add_parser("info", help="print versions, the device and the active preset")
    info.set_defaults(func=cmd_info)

    bench = sub.add_parser(
        "bench",
        help="DCGAN training speed: ganlib's trainer against a plain Keras train_step",
        description=(
            "Train the DCGAN of ganlib.models on random batches and print images/s, CPU "
            "seconds per step and peak memory, for ganlib.train.GAN and for a plain Keras "
            "train_step written as in the keras-io DCGAN example (no XLA). Each run is a "
            "fresh process; the trainers alternate so a busy machine slows both alike."
        ),
    )
    bench.add_argument("--shapes", nargs="+", default=["32x32x1", "64x64x3"],
                       help="image shapes to measure (default: 32x32x1 64x64x3)")
    bench.add_argument("--variants", nargs="+", default=["keras-io", "ganlib"],
                       help="trainers; the first is the baseline. Known: keras-io, keras-io+xla, "
                            "keras-io+onednn, ganlib, ganlib+xla, ganlib+onednn, ganlib-onednn")
    bench.add_argument("--batch-size", type=int, default=None,
                       help="images per step (default 64; with --quality, lesson 03's)")
    bench.add_argument("--steps", type=int, default=10, help="timed steps per run (default 10)")
    bench.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    bench.add_argument("--repeats", type=int, default=3, help="runs per trainer and shape (default 3)")
    bench.add_argument("--width", type=int, default=None,
                       help="ngf = ndf of the networks (default 64; with --quality, lesson 03's)")
    bench.add_argument("--json", default=None, help="also write every measurement to this JSON file")
    quality = bench.add_argument_group(
        "time to quality (--quality): each recipe of ganlib.recipes trained on the procedural sprites "
        "for the same CPU time, measured against held-out sprites at milestones")
    quality.add_argument("--quality", action="store_true",
                         help="run the time-to-quality benchmark instead of the speed one")
    quality.add_argument("--recipes", nargs="+", default=None,
                         help="recipes to compare, the first is the baseline (default: all of them)")
    quality.add_argument("--cpu-seconds", type=float, default=None,
                         help="CPU seconds of training per recipe (default: lesson 03's budget)")
    quality.add_argument("--milestones", type=float, nargs="+", default=None,
                         help="CPU seconds at which to measure on the way (default: 1/4 and 1/2 of it)")
    quality.add_argument("--image-size", type=int, default=None, help="sprite size (default: lesson 03's)")
    quality.add_argument("--plot", default=None, help="also save the metrics against CPU time as this PNG")
    quality.add_argument("--seeds", type=int, nargs="+", default=None,
                         help="train every recipe once per seed and report mean and spread (default: 0)")
    quality.add_argument("--n-eval", type=int, default=None,
                         help="held-out images (and as many samples) per measurement (default 800)")
    data = bench.add_argument_group(
        "data pipeline (--data): images/s of ImageSet.pipeline on a CelebA-like folder it writes "
        "(178x218 JPEGs, crop 108), epoch 1 and later epochs, beside a NumPy gather of uint8 batches")
    data.add_argument("--data", nargs="?", const="pipeline", default=None, choices=("pipeline", "sprites", "emoji", "faces"),
                      help="alone: run the data pipeline benchmark instead of the speed one; with --quality: "
                           "the images to train on, 'sprites' (procedural, the default), 'emoji' (OpenMoji) or "
                           "'faces' (lesson 02's 100 grey LFW faces, 20 held out, chosen by --seed)")
    data.add_argument("--data-count", type=int, default=4000, help="JPEGs to write (default 4000)")
    data.add_argument("--data-epochs", type=int, default=3, help="epochs to read, at least 2 (default 3)")
    data.add_argument("--data-batch-size", type=int, default=128, help="images per batch (default 128)")
    bench.set_defaults(func=cmd_bench)
    _add_run_commands(sub)
    return parser


def cmd_info(args) -> int:
    import ganlib

    ganlib.setup(verbose=True)
    return 0


def cmd_bench(args) -> int:
    from ._bench import QUALITY_DEFAULTS, quality, run
    from ._checks import check_positive, check_seed

    if args.data in ("sprites", "emoji", "faces") and not args.quality:
        raise ValueError(f"--data {args.data} chooses the images of --quality; add --quality, or give --data "
                         "alone for the data pipeline benchmark.")
    if args.data == "pipeline" and args.quality:
        raise ValueError("--data alone runs the data pipeline benchmark, which --quality is not; for --quality "
                         "give --data sprites, --data emoji or --data faces.")
    _check_report_path("--json", args.json, (".json",))
    _check_report_path("--plot", getattr(args, "plot", None), (".png", ".svg", ".pdf"))
    if args.data == "pipeline":
        from ._bench import data_pipeline

        count = check_positive("--data-count", args.data_count, integer=True)
        epochs = check_positive("--data-epochs", args.data_epochs, integer=True)
        batch_size = check_positive("--data-batch-size", args.data_batch_size, integer=True)
        if count < batch_size:
            raise ValueError(f"--data-count={count} is smaller than --data-batch-size={batch_size}; "
                             "write at least one batch of images.")
        data_pipeline(count=count, epochs=max(epochs, 2), batch_size=batch_size, json_path=args.json)
        return 0
    if args.quality:
        settings = dict(QUALITY_DEFAULTS)
        for name in ("width", "image_size", "cpu_seconds", "milestones", "batch_size", "n_eval"):
            if getattr(args, name) is not None:
                settings[name] = getattr(args, name)
        check_positive("--batch-size", settings["batch_size"], integer=True)
        check_positive("--n-eval", settings["n_eval"], integer=True)
        if args.seeds is not None:
            for seed in args.seeds:
                check_seed("--seeds", seed)
            if len(set(args.seeds)) != len(args.seeds):
                raise ValueError(f"--seeds {' '.join(map(str, args.seeds))} repeats a seed; give each once.")
        if args.milestones is None and args.cpu_seconds is not None:
            settings["milestones"] = (settings["cpu_seconds"] / 4, settings["cpu_seconds"] / 2)
        check_positive("--cpu-seconds", settings["cpu_seconds"])
        _check_number("--cpu-seconds", settings["cpu_seconds"], low=0, high=MAX_SECONDS, low_open=True)
        check_positive("--width", settings["width"], integer=True)
        _check_integer("--width", settings["width"], high=LIMITS["width"])
        _check_integer("--batch-size", settings["batch_size"], high=LIMITS["batch_size"])
        _check_integer("--n-eval", settings["n_eval"], high=MAX_EVAL_IMAGES)
        if settings["image_size"] not in IMAGE_SIZES:
            raise ValueError(f"--image-size={settings['image_size']} is not supported; use 16, 32, 64 or 128.")
        for milestone in settings["milestones"]:  # recipes.train_for_cpu_seconds ignores the others
            if not 0 < milestone < settings["cpu_seconds"]:
                raise ValueError(f"--milestones {milestone:g} is outside (0, {settings['cpu_seconds']:g}); "
                                 "give CPU seconds below --cpu-seconds.")
        if args.recipes is not None:
            from .recipes import RECIPES, RENAMED

            _check_known("--recipes", args.recipes, {**RECIPES, **RENAMED})
        quality(recipe_names=args.recipes, json_path=args.json, plot_path=args.plot,
                data=args.data or "sprites", seeds=args.seeds, **settings)
        return 0
    if args.batch_size is None:
        args.batch_size = 64
    for name in ("batch_size", "steps", "warmup", "repeats"):
        check_positive(f"--{name.replace('_', '-')}", getattr(args, name), integer=True)
    from ._bench import SHAPES, VARIANTS

    _check_known("--shapes", args.shapes, SHAPES)
    _check_known("--variants", args.variants, VARIANTS)
    width = check_positive("--width", 64 if args.width is None else args.width, integer=True)
    _check_integer("--width", width, high=LIMITS["width"])
    _check_integer("--batch-size", args.batch_size, high=LIMITS["batch_size"])
    for name in ("steps", "warmup", "repeats"):
        _check_integer(f"--{name}", getattr(args, name), high=MAX_STEPS)
    run(shapes=tuple(args.shapes), variants=tuple(args.variants), batch_size=args.batch_size,
        steps=args.steps, warmup=args.warmup, repeats=args.repeats, width=width,
        json_path=args.json)
    return 0


#: bench --quality --n-eval: images per set for the metrics, at most.
MAX_EVAL_IMAGES = 100_000


def _check_report_path(option, path, extensions):
    """A report file of bench: checked before the benchmark runs (minutes), not after it."""
    import os

    if path is None:
        return
    if not path.strip() or os.path.splitext(path)[1].lower() not in extensions:
        raise ValueError(f"{option} {path!r} must name a {' or '.join(extensions)} file, e.g. {option} "
                         f"results/quality{extensions[0]}.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{option} {path!r}: the folder {folder!r} does not exist; create it first.")
    if os.path.isdir(path):
        raise ValueError(f"{option} {path!r} is a folder; give a file name.")
    _check_can_write(option, folder, what="file in a folder", shown=repr(path))


def _check_known(option, values, known):
    """Every value of a many-valued option is one of ``known`` (else one line naming it)."""
    for value in values:
        if value not in known:
            raise ValueError(f"{option} {value} is not known; use {', '.join(known)}.")


# --- train, sample, inpaint, toy -------------------------------------------------------

MODELS = ("dcgan", "wgan-gp", "cgan")
DATA_SOURCES = {"faces": ("auto", "celeba", "lfw"), "sprites": ("auto", "pokemon", "procedural")}
IMAGE_SIZES = (16, 32, 64, 128)

#: Upper bounds of the integer options: far above any sensible run, low enough that a typo
#: (an extra zero or ten) is one clear line instead of a crash deep in TensorFlow or a
#: machine out of memory.
MAX_STEPS = 10**9
LIMITS = {"batch_size": 65536, "latent_dim": 4096, "width": 1024, "n_critic": 1000, "samples": 1024,
          "limit": 10**9, "epochs": 10**6, "r1_every": 10**6, "seed": 2**32 - 1}
#: Adam's step size: above 1 every weight jumps by about 1 per step (Kingma & Ba 2015:
#: the step is bounded by the learning rate), so a larger value is a typo.
MAX_LEARNING_RATE = 1.0
#: ... and below 1e-12 a step changes no float32 weight of order 1e-2 (DCGAN's initial scale:
#: float32 resolves about 1e-9 there), so 1e-50 trained with a rate of 0 in effect.
MIN_LEARNING_RATE = 1e-12
#: sample: images per grid and enlargement, and the grid's pixels at most (PIL's own limit,
#: Image.MAX_IMAGE_PIXELS, about 89 million: a larger PNG is refused as a decompression bomb).
MAX_SAMPLES, MAX_SCALE, MAX_GRID_PIXELS = 4096, 64, 89_478_485
#: toy: examples per batch (lesson 01 uses 64; 10**8 crashed natively after 14 GB).
MAX_TOY_BATCH = 100_000
#: toy: |--mean| and --std at most (the target of lesson 01 is N(4, 0.5); 1e300 overflowed
#: float32 into "b contains NaN or inf").
MAX_TOY_TARGET = 1e6
#: --quiet of train, sample, inpaint and toy: nothing on stdout (ganlib's own lines and those
#: of the libraries it calls), no progress bar and no TensorFlow C++ log lines.
QUIET_HELP = "print nothing but warnings and errors (no progress bar, no messages)"
#: What PIL can write, by file extension.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")

#: Settings that define a run: ``train --resume`` takes them from the run's config.json and
#: refuses a different value (the networks, the data and the checkpoint must fit together).
RUN_SETTINGS = ("model", "data", "source", "image_size", "channels", "latent_dim", "width",
                "batch_size", "learning_rate", "n_critic", "gp_weight", "limit", "seed",
                "mixed_precision", "samples", *("recipe", "loss", "spectral_norm", "diffaugment", "ema",
                                                "r1", "r1_every", "d_learning_rate", "g_learning_rate",
                                                "mirror", "upsample", "diffaugment_policy"),
                "conditioning")
#: The run's length: kept in config.json, and a --resume may extend each (like --epochs).
BUDGET_SETTINGS = ("epochs", "cpu_seconds", "wall_seconds")

#: What config.json must hold (the rest have defaults; see _read_config).
CONFIG_REQUIRED = ("model", "data", "image_size", "channels", "latent_dim", "width", "batch_size",
                   "learning_rate", "seed")

#: The post-2017 training options of --model dcgan (ganlib.recipes, lesson 03), with the
#: values of a plain DCGAN; a run folder written before they existed reads as these.
TOOLKIT_DEFAULTS = {"recipe": None, "loss": "bce", "spectral_norm": False, "diffaugment": False,
                    "ema": None, "r1": 0.0, "r1_every": 16, "d_learning_rate": None,
                    "g_learning_rate": None, "mirror": False, "upsample": "transposed",
                    "diffaugment_policy": "color,translation,cutout"}


def _default_settings(model, on_cpu=False):
    """The defaults of a new run, each from the paper of its model, or sized for a CPU.

    DCGAN (Radford et al. 2015): latent_dim 100, ngf = ndf = 64, batch 128, Adam 2e-4.
    WGAN-GP (Gulrajani et al. 2017, Algorithm 1): batch 64, Adam 1e-4, n_critic 5, lambda 10.
    ``on_cpu`` (preset 'cpu' or 'quick': no GPU): 32x32 images, width 32, batch 64 and a
    budget of 600 CPU seconds instead of 5 epochs; a DCGAN trains with ``recipes.CPU_RECIPE``,
    the recipe that did best on real images in that budget (benchmarks/README.md).
    """
    from .defaults import DCGAN_LEARNING_RATE, WGAN_GP_LEARNING_RATE
    from .recipes import CPU_RECIPE

    wgan = model == "wgan-gp"
    settings = {"source": "auto", "image_size": 64, "channels": 3, "latent_dim": 100, "width": 64,
                "batch_size": 64 if wgan else 128,
                "learning_rate": WGAN_GP_LEARNING_RATE if wgan else DCGAN_LEARNING_RATE,
                "n_critic": 5 if wgan else None, "gp_weight": 10.0 if wgan else None, "limit": None,
                "seed": 42, "mixed_precision": False, "samples": 64, "epochs": 5,
                "cpu_seconds": None, "wall_seconds": None,
                "conditioning": "projection" if model == "cgan" else None}
    if on_cpu:
        settings.update(image_size=32, width=32, batch_size=64, epochs=None, cpu_seconds=CPU_SECONDS)
        if model == "dcgan":
            settings["recipe"] = CPU_RECIPE
    return settings


#: Steps between checkpoints unless --checkpoint-every says otherwise (a --resume keeps the run's).
CHECKPOINT_EVERY = 500

#: The budget of a new run without a GPU when no --epochs, --cpu-seconds or --minutes is given.
CPU_SECONDS = 600.0


def _on_cpu() -> bool:
    """True unless the preset is 'gpu' (GANLIB_PRESET, else whether TensorFlow sees a GPU)."""
    import ganlib

    return ganlib.preset() != "gpu"


def _add_run_commands(sub):
    """The parsers of train, sample, inpaint and toy."""
    from .recipes import CPU_RECIPE as CPU_RECIPE_NAME, RECIPES as RECIPE_NAMES  # no TensorFlow
    train = sub.add_parser(
        "train",
        help="train a DCGAN or WGAN-GP on faces, sprites or a folder of your images",
        description=(
            "Train a GAN with ganlib.train.fit_gan: one progress bar with ETA, a checkpoint every "
            "--checkpoint-every steps and at the end (OUT/checkpoints), a grid of samples from one "
            "fixed noise batch after every epoch (OUT/samples/epoch_NNNN.png) and their GIF "
            "(OUT/samples.gif), the trained networks (OUT/generator.keras, OUT/discriminator.keras), "
            "the per-step losses (OUT/history.json) and the run's settings (OUT/config.json). "
            "Stop it any time (Ctrl-C) and continue with --resume."
        ),
    )
    train.add_argument("--model", choices=MODELS, default=None,
                       help="dcgan (Radford et al. 2015), wgan-gp (Gulrajani et al. 2017) or cgan (a "
                            "conditional DCGAN, Mirza & Osindero 2014, trained on --data FOLDER of class "
                            "subfolders FOLDER/<class>/*.png; sample a class with 'sample RUN --label "
                            "CLASS'); required for a new run")
    train.add_argument("--data", default=None,
                       help="'faces' (CelebA if present or downloadable, else the LFW faces of "
                            "scikit-image), 'sprites' (Pokemon if present or downloadable, else "
                            "procedural sprites) or the path of a folder of PNG/JPEG/GIF/BMP images "
                            "(subfolders included; write ./faces for a folder called faces); required "
                            "for a new run")
    train.add_argument("--source", default=None,
                       help="which data set 'faces' or 'sprites' uses: auto (default), celeba or lfw "
                            "for faces; auto, pokemon or procedural for sprites")
    train.add_argument("--out", required=True, help="the run folder (created if missing)")
    train.add_argument("--epochs", type=int, default=None,
                       help="total epochs of the run, also when resuming (a larger value extends a "
                            "finished run); default on a GPU 5 (Radford et al.: 5 CelebA epochs give "
                            "faces), on a CPU none (the budget of --cpu-seconds decides)")
    train.add_argument("--cpu-seconds", type=float, default=None,
                       help="a budget: stop when training has used this much CPU time in all (every "
                            "session of the run; all threads count, so on 2 busy cores about twice the "
                            "wall time); default on a CPU 600 when no --epochs or --minutes is given")
    train.add_argument("--minutes", type=float, default=None,
                       help="a budget: stop after this many minutes of training in all (wall clock)")
    train.add_argument("--image-size", type=int, default=None,
                       help="side of the square images: 16, 32, 64 or 128 (default 64, DCGAN's size)")
    train.add_argument("--channels", type=int, default=None,
                       help="1 (grey), 3 (RGB, default) or 4 (RGBA)")
    train.add_argument("--batch-size", type=int, default=None,
                       help="images per step on each device (default 128 for dcgan, Radford et al. "
                            "2015; 64 for wgan-gp, Gulrajani et al. 2017); with --distribute the "
                            "global batch is this times the number of devices")
    train.add_argument("--latent-dim", type=int, default=None, help="size of z (default 100)")
    train.add_argument("--width", type=int, default=None,
                       help="ngf = ndf, channels of the networks' outer layers (default 64 as in "
                            "the paper; 16 or 32 train much faster on a CPU)")
    train.add_argument("--learning-rate", type=float, default=None,
                       help="Adam's step size for both networks (default 2e-4 for dcgan, 1e-4 for "
                            "wgan-gp)")
    train.add_argument("--n-critic", type=int, default=None,
                       help="wgan-gp only: critic updates per generator update (default 5)")
    train.add_argument("--gp-weight", type=float, default=None,
                       help="wgan-gp only: lambda, the gradient penalty's weight (default 10)")
    train.add_argument("--conditioning", choices=("concat", "projection", "acgan"), default=None,
                       help="cgan only: how D gets the label: concat (one-hot as extra input channels, "
                            "Mirza & Osindero 2014), projection (default; Miyato & Koyama 2018) or acgan "
                            "(an auxiliary classifier head, Odena et al. 2017); lesson 06 compares them")
    toolkit = train.add_argument_group(
        "training recipe (--model dcgan; lesson 03 compares them at equal CPU time)")
    toolkit.add_argument("--recipe", default=None,
                         help="a named recipe of ganlib.recipes that sets the options below: "
                              f"{', '.join(RECIPE_NAMES)} (the options given explicitly win); default "
                              f"on a CPU {CPU_RECIPE_NAME}, the best on real images in ten CPU minutes")
    toolkit.add_argument("--loss", choices=("bce", "hinge"), default=None,
                         help="bce: the cross-entropy of Goodfellow et al. 2014 (default); hinge: "
                              "Lim & Ye 2017, as used with spectral norm by Miyato et al. 2018")
    toolkit.add_argument("--spectral-norm", action=argparse.BooleanOptionalAction, default=None,
                         help="spectral normalisation of every discriminator layer instead of batch "
                              "norm (Miyato et al. 2018)")
    toolkit.add_argument("--diffaugment", action=argparse.BooleanOptionalAction, default=None,
                         help="differentiable colour/translation/cutout augmentation of everything D "
                              "sees (Zhao et al. 2020); helps small data sets")
    toolkit.add_argument("--ema", type=float, default=None, metavar="DECAY",
                         help="keep a running average of G's weights with this decay and sample from "
                              "it (Karras et al. 2018: 0.999); grids, GIF and generator.keras use it")
    toolkit.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=None,
                         help="a left-right symmetric generator: it draws the left half and mirrors it "
                              "(ganlib.models.MirrorSymmetric); a prior for symmetric images such as the "
                              "procedural sprites, wrong for the rest")
    toolkit.add_argument("--upsample", choices=("transposed", "resize"), default=None,
                         help="how G doubles the image size: transposed 4x4 convolutions (Radford et "
                              "al. 2015; default) or nearest-neighbour resizing and a 3x3 convolution "
                              "(Odena et al. 2016: no checkerboard pattern)")
    toolkit.add_argument("--diffaugment-policy", default=None,
                         help="what --diffaugment changes, comma-separated from color, translation, "
                              "cutout (default: all three, Zhao et al. 2020)")
    toolkit.add_argument("--r1", type=float, default=None, metavar="GAMMA",
                         help="R1 penalty gamma/2 E||grad D(x)||^2 on real images (Mescheder et al. "
                              "2018); default 0 (none)")
    toolkit.add_argument("--r1-every", type=int, default=None, metavar="N",
                         help="compute R1 every N discriminator steps, scaled by N (lazy "
                              "regularisation, Karras et al. 2020: 16, the default)")
    toolkit.add_argument("--d-learning-rate", type=float, default=None,
                         help="the discriminator's own Adam step size (two time-scale update rule, "
                              "Heusel et al. 2017); default --learning-rate")
    toolkit.add_argument("--g-learning-rate", type=float, default=None,
                         help="the generator's own Adam step size (TTUR); default --learning-rate")
    train.add_argument("--limit", type=int, default=None,
                       help="use only the first N images (quick tries); with --model cgan, the first "
                            "images of every class in turn, so each class keeps its share")
    train.add_argument("--seed", type=int, default=None, help="seed of everything (default 42)")
    train.add_argument("--samples", type=int, default=None,
                       help="images in each epoch's sample grid (default 64)")
    train.add_argument("--checkpoint-every", type=int, default=None,
                       help="steps between checkpoints (default 500, or the run's own on --resume; one is "
                            "also written at the end)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run in --out from its newest checkpoint, with its settings")
    train.add_argument("--overwrite", action="store_true",
                       help="delete the checkpoints and grids already in --out and start afresh")
    train.add_argument("--distribute", action="store_true",
                       help="train on every GPU of this machine (tf.distribute.MirroredStrategy; the "
                            "logical CPUs when there is no GPU)")
    train.add_argument("--mixed-precision", action=argparse.BooleanOptionalAction, default=None,
                       help="compute in float16 with float32 weights and loss scaling (the "
                            "'mixed_float16' policy); for GPUs, slow on a CPU")
    train.add_argument("--jit", action=argparse.BooleanOptionalAction, default=None,
                       help="compile the train step with XLA (default: Keras' choice, on when a "
                            "GPU is present)")
    train.add_argument("--tensorboard", default=None, metavar="DIR",
                       help="also log every step's losses and each epoch's sample grid for "
                            "TensorBoard in DIR (view with: tensorboard --logdir DIR)")
    train.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    train.set_defaults(func=cmd_train)

    sample = sub.add_parser(
        "sample",
        help="draw images from a trained generator into a grid PNG",
        description=(
            "Load a generator (a .keras file, or a run folder made by 'train': its generator.keras, "
            "or its newest checkpoint when the run did not finish) and save a grid of images made "
            "from fresh noise."
        ),
    )
    sample.add_argument("model", metavar="MODEL", help="a generator .keras file or a run folder")
    sample.add_argument("--out", required=True, help="the PNG to write")
    sample.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    sample.add_argument("--n", type=int, default=64, help="how many images (default 64)")
    sample.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    sample.add_argument("--columns", type=int, default=None, help="images per row (default: a square)")
    sample.add_argument("--scale", type=int, default=1, help="enlarge the grid this many times")
    sample.add_argument("--label", default=None,
                        help="a conditional run (train --model cgan): draw this class, given by its "
                             "folder name or its number (0 = the first class folder in sorted order; "
                             "when the folders are named by numbers, by name only); default: the "
                             "classes in turn, one per column")
    sample.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    sample.set_defaults(func=cmd_sample)

    inpaint = sub.add_parser(
        "inpaint",
        help="fill the missing part of an image with a trained GAN (Yeh et al. 2016)",
        description=(
            "Semantic inpainting (ganlib.inpaint): search the latent vector whose image matches the "
            "known pixels and looks real to the discriminator, then blend its pixels into the hole. "
            "MODEL is a run folder made by 'train' (generator and discriminator)."
        ),
    )
    inpaint.add_argument("image", metavar="IMAGE", help="the image file (resized to the GAN's size)")
    inpaint.add_argument("--model", required=True, help="a run folder made by 'train'")
    inpaint.add_argument("--mask", default="center",
                         help="center (default: the middle quarter), random (80%% of pixels), "
                              "left_half, grid, or a PNG drawn with the hole in black")
    inpaint.add_argument("--invert-mask", action="store_true",
                         help="the PNG mask has its hole in white instead")
    inpaint.add_argument("--out", required=True, help="the completed image (PNG)")
    inpaint.add_argument("--overwrite", action="store_true",
                         help="replace --out and --panel if they exist (never the input image or mask)")
    inpaint.add_argument("--panel", default=None,
                         help="also save original | with hole | completed side by side here")
    inpaint.add_argument("--steps", type=int, default=1000,
                         help="Adam steps of the latent search (default 1000, Amos 2016)")
    inpaint.add_argument("--candidates", type=int, default=8,
                         help="latent vectors searched at once, the best kept (default 8)")
    inpaint.add_argument("--perceptual-weight", type=float, default=0.1,
                         help="lambda, weight of the discriminator's 'looks real' loss (default 0.1)")
    inpaint.add_argument("--no-blend", action="store_true",
                         help="paste the generated pixels without Poisson blending")
    inpaint.add_argument("--seed", type=int, default=0, help="seed of the search (default 0)")
    inpaint.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    inpaint.set_defaults(func=cmd_inpaint)

    toy = sub.add_parser(
        "toy",
        help="train the 1-D toy GAN of lesson 01 and print its Wasserstein-1 distance",
        description=(
            "Train the small GAN of lesson 01 on N(mean, std), as in Goodfellow et al. 2014, fig. 1 "
            "(non-saturating loss, ganlib.toy.train_toy_gan), and print W1 between 10,000 generated "
            "and 10,000 target samples along the way, with the W1 a perfect generator would still "
            "show on samples of that size. With the defaults W1 ends near 0.03 in about 15 s."
        ),
    )
    toy.add_argument("--steps", type=int, default=3000,
                     help="generator steps (default 3000, lesson 01's cpu preset)")
    toy.add_argument("--d-steps", type=int, default=5,
                     help="discriminator updates per generator step, k (default 5: lesson 01 finds "
                          "it steadier than Goodfellow et al.'s k = 1)")
    toy.add_argument("--decay-to", type=float, default=0.0,
                     help="the learning rate decays (cosine) to this fraction of 1e-3 at the last step "
                          "(default 0, as in lesson 01; 1 keeps it constant)")
    toy.add_argument("--mean", type=float, default=4.0, help="the target's mean (default 4)")
    toy.add_argument("--std", type=float, default=0.5, help="the target's standard deviation (default 0.5)")
    toy.add_argument("--batch-size", type=int, default=64, help="examples per batch (default 64)")
    toy.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    toy.add_argument("--gif", default=None, help="also save an animation of the run here")
    toy.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    toy.set_defaults(func=cmd_toy)


@contextlib.contextmanager
def _quiet_if(quiet):
    """--quiet: stdout goes nowhere while the command runs (what ganlib's callbacks and the
    libraries print, e.g. NaNGuard's line beside the CLI's own error) and TensorFlow's C++
    side logs nothing (level 3 hides its "E0000 ... oneDNN supports DT_HALF only on
    platforms with AVX-512" of --mixed-precision on a CPU; it is read when TensorFlow loads).
    Warnings and errors go to stderr as always."""
    if not quiet:
        yield
        return
    import os

    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            yield
    finally:  # TensorFlow read it when it loaded; a caller of main() gets its own back
        if level is None:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
        else:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = level


def _escape_unencodable_output():
    """File names that are not valid UTF-8 (Python lists them with surrogate escapes, PEP 383)
    print as backslash escapes instead of failing: a strict UTF-8 stdout (a UTF-8 locale,
    Jupyter, PYTHONIOENCODING=utf-8) raised UnicodeEncodeError, shown as "error: 'utf-8'
    codec can't encode character" with the bad-option status."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (AttributeError, OSError, ValueError):  # a stream that cannot: leave it
                pass


def _warn_if_not_symmetric(images, count=256, enough=0.9):
    """--mirror makes a generator that can only draw left-right symmetric images: say so when
    the first ``count`` training images are not symmetric (ganlib.metrics.mirror_symmetry)."""
    import warnings

    from .metrics import mirror_symmetry

    symmetry = mirror_symmetry(images.numpy(limit=count))
    if symmetry < enough:
        warnings.warn(f"--mirror: only {symmetry:.0%} of the pixels of the first {min(count, len(images))} "
                      f"training images equal their mirror image (symmetric data: {enough:.0%} or more); a "
                      "mirrored generator cannot draw these images. Leave --mirror out unless they are symmetric.")
    return symmetry


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings on the command line: one line each, without the source line."""
    print(f"warning: {_one_line(message)}", file=sys.stderr)


def _one_line(error) -> str:
    """The error's message on one line (newlines and runs of spaces become one space)."""
    return " ".join(str(error).split()) or type(error).__name__


def _is_out_of_memory(error) -> bool:
    name = type(error).__name__
    text = str(error)
    return (name == "ResourceExhaustedError" or isinstance(error, MemoryError)
            or "OOM when allocating" in text or "out of memory" in text.lower())


def _resume_hint(args) -> str:
    """How to go on after a stopped ``train``: --resume when a checkpoint exists, else start over."""
    if getattr(args, "command", None) != "train" or not getattr(args, "out", "").strip():
        return ""
    from .runfolder import RunFolder

    folder = RunFolder(args.out)
    if folder.has_checkpoint():
        return (f"; the run keeps its last checkpoint: continue it with "
                f"python -m ganlib train --out {args.out} --resume")
    if not folder.ganlib_files():  # stopped before the run wrote anything: the same command again
        return "; nothing was written yet: run the same command again to start"
    return (f"; no checkpoint was written yet, so there is nothing to resume: start again with "
            f"--overwrite (python -m ganlib train ... --out {args.out} --overwrite)")


def _check_number(name, value, low=None, high=None, low_open=False):
    """A finite float option within [low, high] (``low_open``: above low), else one line."""
    import math

    if value is None:
        return value
    ok = (math.isfinite(value) and (low is None or (value > low if low_open else value >= low))
          and (high is None or value <= high))
    if not ok:
        bounds = [f"{'>' if low_open else '>='} {low:g}"] if low is not None else []
        bounds += [f"<= {high:g}"] if high is not None else []
        raise ValueError(f"{name}={value:g} must be a finite number{' ' if bounds else ''}"
                         f"{' and '.join(bounds)}.")
    return value


def _with_option(option, value, error) -> ValueError:
    """A library's ValueError about its ``path`` argument, worded with the option the user
    typed: "path='x' holds no image files" becomes "--data 'x' holds no image files"."""
    import re

    text = _one_line(error)
    match = re.match(r"path=(?:'[^']*'|\"[^\"]*\")(:?)\s*", text)
    if match:
        text = text[match.end():]
    return ValueError(f"{option} {value!r}{' ' if match and not match.group(1) else ': '}{text}")


def _resume_error(error, args) -> ValueError:
    """fit_gan's checkpoint errors end with advice for Python callers ("use another out_dir,
    or resume=False"); on the command line the advice names --out and --overwrite."""
    import re

    text = _one_line(error)
    match = re.search(r"\.?\s*(The files are kept: move them away, use another out_dir|Use another out_dir)"
                      r", or resume=False\b.*$", text)
    if match is None:
        return error
    text = text[:match.start()]
    if match.group(1).startswith("The files"):  # every checkpoint damaged (as _intact_checkpoint_step)
        return ValueError(f"--resume: {text}. The files are kept: move them away and use --overwrite to "
                          "start afresh, or train into another --out.")
    return ValueError(f"--resume: {text}: the run's config.json does not describe the networks of its "
                      "checkpoint (was it edited?); restore config.json, start afresh with --overwrite, "
                      "or train into another --out.")


def _check_integer(name, value, low=1, high=None):
    if value is not None and value < low:
        raise ValueError(f"{name}={value} must be an integer >= {low}.")
    if value is not None and high is not None and value > high:
        raise ValueError(f"{name}={value} is too large; use an integer from {low} to {high}.")
    return value


def _check_grid_size(output_shape, args):
    """The grid ``sample`` would write holds at most MAX_GRID_PIXELS pixels (else one line)."""
    import math

    try:
        height, width = int(output_shape[1]), int(output_shape[2])
    except (TypeError, IndexError, ValueError):
        return  # not an image generator: _check_generator says so
    columns = min(args.columns or math.ceil(math.sqrt(args.n)), args.n)
    rows = math.ceil(args.n / columns)
    pixels = (rows * (height + 2) + 2) * (columns * (width + 2) + 2) * args.scale ** 2
    if pixels > MAX_GRID_PIXELS:
        raise ValueError(f"--n {args.n} x --scale {args.scale} makes a grid of {pixels:,} pixels, more than "
                         f"{MAX_GRID_PIXELS:,}; lower --scale or --n.")


def _check_writable_folder(name, path):
    """``path`` is a folder this process can write into, or can be created (checked before
    TensorFlow loads: its own error is a traceback from deep inside the event writer)."""
    import os

    if not path.strip():
        raise ValueError(f"{name} {path!r} is empty; give a folder for the logs, e.g. {name} runs/logs.")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{name} {path!r} is a file; give a folder for the logs.")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise ValueError(f"{name} {path!r} cannot be created ({error.strerror or error}); give a folder "
                         "you can write to.") from None
    _check_can_write(name, path)  # a probe file: permission bits say nothing of root or a read-only disk


def _check_can_write(name, folder, what="folder", shown=None):
    """This process can write into ``folder`` (or into its nearest existing parent, where it
    would be created): tried with a hidden probe file, since permission bits say nothing of a
    read-only disk or of root. Checked before TensorFlow and the data load, so a read-only
    place is one line at once, not an "[Errno 30]" naming a temporary file after minutes."""
    import os
    import tempfile

    place = os.path.abspath(folder)
    while not os.path.isdir(place) and os.path.dirname(place) != place:
        place = os.path.dirname(place)
    try:
        handle, probe = tempfile.mkstemp(prefix=".ganlib-probe-", dir=place)
        os.close(handle)
        os.remove(probe)
    except OSError as error:
        raise ValueError(f"{name} {shown or repr(folder)}: cannot write in {place!r} ({error.strerror or error}: a read-only "
                         f"disk or no permission); give a {what} you can write to.") from None


def _check_image_path(name, path):
    """``path`` ends in an image extension PIL writes (else PIL fails late with 'unknown file
    extension', after the work is done)."""
    import os

    if not path.strip() or os.path.splitext(path)[1].lower() not in IMAGE_EXTENSIONS:
        raise ValueError(f"{name}={path!r} has no image file extension; use one of "
                         f"{', '.join(IMAGE_EXTENSIONS)}, e.g. {name} samples.png.")
    if os.path.isdir(path):
        raise ValueError(f"{name}={path!r} is a folder; give the image file to write.")
    return path


def _check_outputs(outputs, inputs, overwrite):
    """Refuse to write where it would lose a file: two outputs on one file, an output on an input
    (never, even with --overwrite), or over an existing file without --overwrite.
    ``outputs`` and ``inputs`` map option names to paths (None: not given)."""
    import os

    def same(a, b):
        return os.path.realpath(a) == os.path.realpath(b)

    given = [(name, path) for name, path in outputs.items() if path]
    for index, (name, path) in enumerate(given):
        for other, other_path in given[index + 1:]:
            if same(path, other_path):
                raise ValueError(f"{name} and {other} are the same file ({path!r}); give each its own file.")
        for source, source_path in inputs.items():
            if source_path and os.path.exists(source_path) and same(path, source_path):
                raise ValueError(f"{name}={path!r} is the {source} it reads; write the result to another file.")
        if os.path.exists(path) and not overwrite:
            raise ValueError(f"{name}={path!r} exists; give another file, or add --overwrite to replace it.")
        _check_can_write(name, os.path.dirname(os.path.abspath(path)), what="file in a folder", shown=repr(path))


def _check_rate(name, value):
    import math

    if value is not None and not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name}={value} must be a positive number.")
    if value is not None and value > MAX_LEARNING_RATE:
        raise ValueError(f"{name}={value} is too large for Adam's step size; use a positive number "
                         f"<= {MAX_LEARNING_RATE:g}, e.g. 2e-4.")
    if value is not None and value < MIN_LEARNING_RATE:
        raise ValueError(f"{name}={value} is too small: training runs in float32, where a step that "
                         f"small changes no weight; use a number >= {MIN_LEARNING_RATE:g}, e.g. 2e-4.")
    return value


def _read_config(out_dir, option="--out"):
    import os

    from .runfolder import RunFolder

    run = RunFolder(out_dir)
    if not os.path.exists(run.config):
        raise ValueError(f"{option} {out_dir!r} holds checkpoints but no config.json; it was not made by "
                         "'python -m ganlib train' (use fit_gan in Python to resume it).")
    config = run.read_config()
    missing = [name for name in CONFIG_REQUIRED if name not in config]
    if missing:
        raise ValueError(f"{run.config} lacks {', '.join(missing)}: it was not written by 'python -m ganlib "
                         "train' or was edited; restore it, or start afresh with --overwrite.")
    if config["model"] not in MODELS:
        raise ValueError(f"{run.config} says model {config['model']!r}; this ganlib knows "
                         f"{', '.join(MODELS)}: restore the file, or start afresh with --overwrite.")
    for name, value in config.items():
        kinds = CONFIG_TYPES.get(name)
        if kinds is not None and not (value is None and name not in CONFIG_REQUIRED) and not (
                isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)):
            wanted = " or ".join(CONFIG_TYPE_WORDS[kind] for kind in kinds)
            raise ValueError(f"{run.config} says {name} {json.dumps(value)}, which is not {wanted}: the file was "
                             "edited or damaged; restore it, or start afresh with --overwrite.")
    defaults = _default_settings(config["model"])  # settings added since the run was written
    return {**{name: defaults[name] for name in defaults if name != "epochs"}, **config}


#: The JSON types each setting of config.json may have (None also, unless CONFIG_REQUIRED).
CONFIG_TYPES = {
    **{name: (str,) for name in ("model", "data", "source", "recipe", "loss", "upsample", "diffaugment_policy",
                                 "conditioning")},
    **{name: (int,) for name in ("image_size", "channels", "latent_dim", "width", "batch_size", "n_critic",
                                 "limit", "seed", "samples", "r1_every", "epochs", "checkpoint_every")},
    **{name: (int, float) for name in ("learning_rate", "gp_weight", "ema", "r1", "d_learning_rate",
                                       "g_learning_rate", "cpu_seconds", "wall_seconds")},
    **{name: (bool,) for name in ("mixed_precision", "spectral_norm", "diffaugment", "mirror")},
    "class_names": (list,),
}
CONFIG_TYPE_WORDS = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
                     list: "a list"}


def _intact_checkpoint_step(out_dir) -> int:
    """The step ``train --resume`` will continue from: that of the newest intact checkpoint,
    found before TensorFlow loads. No intact one: a one-line error naming each file and why."""
    from .runfolder import RunFolder, describe_damaged, newest_intact_checkpoint

    run = RunFolder(out_dir)
    path, meta, damaged = newest_intact_checkpoint(run.checkpoints)
    if path is None:
        raise ValueError(f"--resume: no intact checkpoint in {run.checkpoints}: {describe_damaged(damaged)}. "
                         "The files are kept: move them away and use --overwrite to start afresh, or "
                         "train into another --out.")
    return int(meta["step"]), meta.get("run")


def _check_against_record(settings, record, config_path):
    """--resume: the settings that define the run (config.json) must be those the run was
    trained with, as its checkpoint recorded them; name each one that differs."""
    recorded = (record or {}).get("settings")
    if not recorded:  # a run written before the record existed
        return
    from .recipes import current_name

    recorded = {**recorded, "recipe": current_name(recorded.get("recipe"))}
    changed = [f"{name} {json.dumps(settings.get(name))} (trained with {json.dumps(value)})"
               for name, value in recorded.items()
               if settings.get(name) != value and name != "data"]  # a moved folder: its images are compared
    if changed:
        raise ValueError(f"--resume: {config_path} differs from the settings the run was trained with (kept in its "
                         f"checkpoint): {', '.join(changed)}; restore config.json, or train a new run with "
                         "--overwrite or another --out.")


def _data_fingerprint(images) -> dict:
    """What identifies the training images of a run: their number, and a SHA-256 of each file's
    name, size and label (or of the pixels, for a set without files), in order."""
    import hashlib
    import os

    digest = hashlib.sha256()
    files = getattr(images, "files", None)
    labels = getattr(images, "labels", None)
    if files:
        root = os.path.commonpath([os.path.dirname(f) for f in files]) if len(files) > 1 else ""
        for index, name in enumerate(files):
            try:
                size = os.path.getsize(name)
            except OSError:
                size = -1
            label = "" if labels is None else int(labels[index])
            digest.update(os.fsencode(os.path.relpath(name, root) if root else name)  # any bytes a name holds
                          + f"\0{size}\0{label}\n".encode())
    else:
        digest.update(images.numpy(limit=None).tobytes() if len(images) <= 100_000 else str(len(images)).encode())
    fingerprint = {"images": len(images), "sha256": digest.hexdigest()}
    if labels is not None:
        fingerprint["per_class"] = [int(count) for count in images.counts()]
    return fingerprint


def _check_data_record(images, record, data):
    """--resume: the images must be those the run started with (same files, sizes, labels)."""
    recorded = (record or {}).get("data")
    if not recorded:
        return
    now = _data_fingerprint(images)
    if now["sha256"] != recorded["sha256"]:
        counts = (f"{recorded['images']} images then, {now['images']} now" if now["images"] != recorded["images"]
                  else f"{now['images']} images then and now, but files, sizes or classes differ")
        if recorded.get("per_class") and now.get("per_class") and recorded["per_class"] != now["per_class"]:
            counts += f"; images per class {recorded['per_class']} then, {now['per_class']} now"
        raise ValueError(f"--resume: the images of --data {data!r} changed since the run started ({counts}); "
                         "restore them, or train a new run on the new images (--overwrite or another --out).")


def _run_settings(args, out_dir, has_checkpoint, has_run_files=False):
    """The settings of this run: from the options, the run's config.json and the defaults."""
    import os

    given = {name: getattr(args, name) for name in RUN_SETTINGS}
    if given["data"] is not None and not given["data"].strip():
        raise ValueError("--data is empty; give faces, sprites or the folder that holds your images "
                         "(write . for the current folder).")
    if given["data"] is not None and given["data"] not in DATA_SOURCES:
        given["data"] = os.path.abspath(os.path.expanduser(given["data"]))
    from .recipes import current_name  # no TensorFlow

    given["recipe"] = current_name(given["recipe"])  # an earlier recipe name
    if args.resume:
        if args.overwrite:
            raise ValueError("--resume and --overwrite contradict each other; give one of them.")
        if not has_checkpoint:
            from .runfolder import RunFolder

            folder = RunFolder(out_dir)
            if folder.ganlib_files():  # a run's files without a checkpoint: only afresh is possible
                raise ValueError(f"--resume: {out_dir!r} holds no checkpoint to resume (looked in "
                                 f"{folder.checkpoints}); start the run afresh with --overwrite instead of "
                                 "--resume (it deletes only the files ganlib wrote there), or use another --out.")
            raise ValueError(f"--resume: {out_dir!r} holds no checkpoint to resume (looked in "
                             f"{folder.checkpoints}); start a new run without --resume.")
        config = _read_config(out_dir)
        config["recipe"] = current_name(config.get("recipe"))  # written before the rename
        for name, value in given.items():
            if value is not None and name in config and value != config[name]:
                option = "--" + name.replace("_", "-")
                raise ValueError(f"{option}={value} but the run in {out_dir!r} was trained with "
                                 f"{config[name]}; leave {option} out when resuming, or train a new "
                                 "run in another --out.")
        settings = dict(config)
        for name, value in _given_budget(args).items():
            if value is not None:
                settings[name] = value
    else:
        if (has_checkpoint or has_run_files) and not args.overwrite:
            raise ValueError(f"--out {out_dir!r} already holds a run; add --resume to continue it, "
                             "--overwrite to start it afresh (it deletes only the files ganlib wrote "
                             "there), or choose another --out.")
        if given["model"] is None:
            raise ValueError("--model is required for a new run; use dcgan, wgan-gp or cgan.")
        if given["data"] is None:
            raise ValueError("--data is required for a new run; use faces, sprites or a folder of images.")
        if given["model"] != "cgan" and given["conditioning"] is not None:
            raise ValueError("--conditioning applies to --model cgan only.")
        if given["model"] == "cgan":
            if given["data"] in DATA_SOURCES:
                raise ValueError(f"--data {given['data']} has no class labels; --model cgan needs a folder "
                                 "of class subfolders, FOLDER/<class>/*.png.")
            for name in ("recipe", "r1", "r1_every", "mirror"):
                if given.get(name) is not None:
                    raise ValueError(f"--{name.replace('_', '-')} applies to --model dcgan only.")
        if given["model"] in ("dcgan", "cgan"):
            for name in ("n_critic", "gp_weight"):
                if given[name] is not None:
                    raise ValueError(f"--{name.replace('_', '-')} applies to --model wgan-gp only.")
        else:
            for name in TOOLKIT_DEFAULTS:
                if given.get(name) is not None:
                    raise ValueError(f"--{name.replace('_', '-')} applies to --model dcgan only.")
        settings = _default_settings(given["model"], on_cpu=_on_cpu())
        settings.update(_recipe_settings(given.get("recipe") or settings.get("recipe")))
        settings.update({name: value for name, value in given.items() if value is not None})
        if given["learning_rate"] is not None:  # an explicit rate beats the recipe's own two
            for name in ("d_learning_rate", "g_learning_rate"):
                if given[name] is None:
                    settings[name] = None
        budget = _given_budget(args)
        if any(value is not None for value in budget.values()):  # the budget given, and only it
            settings.update(budget)
    if settings.get("epochs") is not None:
        _check_integer("--epochs", settings["epochs"], high=LIMITS["epochs"])
    _check_number("--cpu-seconds", settings.get("cpu_seconds"), low=0, high=MAX_SECONDS, low_open=True)
    if settings.get("wall_seconds") is not None:
        _check_number("--minutes", settings["wall_seconds"] / 60.0, low=0, high=MAX_SECONDS / 60.0, low_open=True)
    if all(settings.get(name) is None for name in BUDGET_SETTINGS):
        settings["epochs"] = 5  # a run written before budgets: its epochs
    if settings["image_size"] not in IMAGE_SIZES:
        raise ValueError(f"--image-size={settings['image_size']} is not supported; use 16, 32, 64 or 128.")
    if settings["channels"] not in (1, 3, 4):
        raise ValueError(f"--channels={settings['channels']} is not supported; use 1, 3 or 4.")
    for name in ("batch_size", "latent_dim", "width", "n_critic", "samples", "limit"):
        _check_integer("--" + name.replace("_", "-"), settings.get(name), high=LIMITS[name])
    _check_integer("--seed", settings["seed"], low=0, high=LIMITS["seed"])
    _check_rate("--learning-rate", settings["learning_rate"])
    settings = {**TOOLKIT_DEFAULTS, **settings}
    settings.setdefault("conditioning", None)  # run folders written before --model cgan
    for name in ("d_learning_rate", "g_learning_rate"):
        _check_rate("--" + name.replace("_", "-"), settings[name])
    if settings["ema"] is not None and not 0 <= settings["ema"] < 1:
        raise ValueError(f"--ema={settings['ema']} must be a decay in [0, 1), e.g. 0.999.")
    _check_number("--r1", settings["r1"], low=0)
    _check_integer("--r1-every", settings["r1_every"], high=LIMITS["r1_every"])
    _check_number("--gp-weight", settings.get("gp_weight"), low=0)
    data = settings["data"]
    source = settings["source"]
    if data in DATA_SOURCES:
        if source not in DATA_SOURCES[data]:
            raise ValueError(f"--source={source} is not allowed with --data {data}; use one of "
                             f"{', '.join(DATA_SOURCES[data])}.")
    else:
        if source != "auto":
            raise ValueError(f"--source={source} applies to --data faces or sprites only, not to a folder.")
        if not os.path.exists(data):
            raise ValueError(f"--data={data!r} is neither 'faces', 'sprites' nor an existing folder; "
                             "give the folder that holds your images.")
        if not os.path.isdir(data):
            raise ValueError(f"--data={data!r} is a file, not a folder; give the folder that holds "
                             "your images.")
    return settings


def _recipe_line(settings) -> str:
    """The header's line on how the run trains: the recipe and every setting it made."""
    if settings["model"] == "wgan-gp":
        return (f"WGAN-GP (Gulrajani et al. 2017): n_critic {settings['n_critic']}, lambda {settings['gp_weight']:g}, "
                f"Adam {settings['learning_rate']:g}")
    rate = settings["learning_rate"]
    d_rate, g_rate = settings.get("d_learning_rate") or rate, settings.get("g_learning_rate") or rate
    parts = [f"G {'resize-convolution' if settings.get('upsample') == 'resize' else 'transposed convolution'}",
             f"D {'spectral norm' if settings.get('spectral_norm') else 'batch norm'}",
             f"{settings.get('loss', 'bce')} loss"]
    if settings.get("diffaugment"):
        parts.append(f"DiffAugment ({settings.get('diffaugment_policy')})")
    if settings.get("ema") is not None:
        parts.append(f"averaged G ({settings['ema']:g})")
    if settings.get("r1"):
        parts.append(f"R1 {settings['r1']:g}")
    if settings.get("mirror"):
        parts.append("mirror-symmetric G")
    parts.append(f"Adam D {d_rate:g}, G {g_rate:g}" if d_rate != g_rate else f"Adam {rate:g}")
    name = settings.get("recipe")
    return f"recipe {name}: " + ", ".join(parts) if name else "recipe: " + ", ".join(parts)


def _budget_line(settings, device) -> str:
    """The header's line on how long the run trains."""
    limits = []
    if settings.get("cpu_seconds") is not None:
        limits.append(f"{settings['cpu_seconds']:g} CPU s")
    if settings.get("wall_seconds") is not None:
        limits.append(f"{settings['wall_seconds'] / 60:g} min")
    if settings.get("epochs") is not None:
        limits.append(f"{settings['epochs']} epochs")
    sized = " (CPU-sized defaults: no GPU)" if device == "CPU" else ""
    return "budget " + " or ".join(limits) + (", whichever comes first" if len(limits) > 1 else "") + sized


def _transparency_note(images, most: int = 5000) -> str | None:
    """A line saying how many of the folder's images have transparency (checked in the file
    headers of at most ``most`` of them), which training puts on white."""
    from .data.files import open_image

    paths = getattr(images, "files", None)  # LabelledImages too
    if not paths:
        return None
    checked = list(paths)[:most]
    transparent = 0
    for path in checked:
        try:
            with open_image(path) as image:
                transparent += image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
        except Exception:  # unreadable files are reported by the loader
            continue
    if not transparent:
        return None
    of = f"{len(checked)}" + (f" checked (of {len(paths)})" if len(paths) > len(checked) else "")
    return (f"note: {transparent} of {of} images have transparent pixels; they are put on a white "
            "background (--channels 4 keeps the transparency as a 4th channel).")


def _given_budget(args) -> dict:
    """The run length options given on the command line (None where not given)."""
    return {"epochs": args.epochs, "cpu_seconds": args.cpu_seconds,
            "wall_seconds": None if args.minutes is None else args.minutes * 60.0}


#: --cpu-seconds and --minutes at most: ten years (a typo, not a run).
MAX_SECONDS = 10 * 365 * 86400.0


def _load_images(settings, verbose):
    """The run's images as a ganlib.data.ImageSet."""
    from . import data as datasets

    import warnings

    size, channels, data = settings["image_size"], settings["channels"], settings["data"]
    with warnings.catch_warnings(record=True) as caught:  # shown below, unless loading fails
        warnings.simplefilter("always", datasets.SkippedImageWarning)
        if data == "faces":
            images = datasets.load_faces(size, channels, source=settings["source"], verbose=verbose)
        elif data == "sprites":
            images = datasets.load_sprites(size, source=settings["source"], channels=channels,
                                           verbose=verbose)
        else:
            load = datasets.load_labelled_folder if settings.get("model") == "cgan" else datasets.load_folder
            try:
                images = load(data, size, channels, verbose=verbose)
            except ValueError as error:
                raise _with_option("--data", data, error) from None
    for warning in caught:
        _show_warning(warning.message, warning.category, warning.filename, warning.lineno)
    if verbose and data not in DATA_SOURCES and channels != 4:
        note = _transparency_note(images)
        if note:
            print(note)
    if settings["limit"] is not None and settings["limit"] < len(images):
        images = images.subset(_limited(images, settings["limit"]))
    return images


def _limited(images, limit: int) -> list:
    """The indices ``--limit`` keeps: the first ``limit`` images, or for a labelled set
    (--model cgan) the first images of each class in turn, so that every class keeps an equal
    share (the first ``limit`` in file order would be the first class alone)."""
    import numpy as np

    labels = getattr(images, "labels", None)
    if labels is None:
        return list(range(limit))
    names = images.class_names
    if limit < len(names):
        raise ValueError(f"--limit {limit} is fewer images than the {len(names)} classes of --data; give at "
                         f"least {len(names)} (one image per class), or leave --limit out.")
    by_class = [list(np.flatnonzero(np.asarray(labels) == label)) for label in range(len(names))]
    order = [index for turn in range(max(map(len, by_class))) for members in by_class
             if turn < len(members) for index in [members[turn]]]
    return sorted(int(index) for index in order[:limit])


_MIRRORED = []


def _strategy(distribute: bool):
    """tf.distribute.MirroredStrategy over the GPUs (else the logical CPUs), or the default.

    One MirroredStrategy per process, reused: two strategies over the same devices in one
    process can reuse each other's collective-op keys and fail with "Shape mismatch in the
    collective instance".
    """
    import tensorflow as tf

    if not distribute:
        return tf.distribute.get_strategy()
    if not _MIRRORED:
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        _MIRRORED.append(tf.distribute.MirroredStrategy([device.name for device in devices]))
    return _MIRRORED[0]


def _recipe_settings(name):
    """The options a named recipe of ``ganlib.recipes`` sets (none for no recipe)."""
    if name is None:
        return {}
    from .recipes import RECIPES, current_name

    name = current_name(name)  # an earlier name (a run folder written before the rename)
    if name not in RECIPES:
        raise ValueError(f"--recipe={name} is not known; use one of {', '.join(RECIPES)}.")
    recipe = RECIPES[name]
    return {"recipe": name, "loss": recipe.loss, "spectral_norm": recipe.normalization == "spectral",
            "diffaugment": recipe.diffaugment, "ema": recipe.ema_decay, "r1": recipe.r1_weight,
            "r1_every": recipe.r1_every, "d_learning_rate": recipe.d_learning_rate,
            "g_learning_rate": recipe.g_learning_rate, "mirror": recipe.mirror, "upsample": recipe.upsample,
            "diffaugment_policy": recipe.diffaugment_policy}


def _build_gan(settings, jit_compile):
    """The networks and the GAN of a run, built in the current strategy scope and policy."""
    import keras

    from . import augment, models
    from .recipes import get_recipe
    from .train import GAN, WGANGP, wgan_gp_adam

    settings = {**TOOLKIT_DEFAULTS, **settings}  # run folders written before the toolkit
    size, channels, latent_dim, width = (settings[name] for name in ("image_size", "channels",
                                                                      "latent_dim", "width"))
    if settings["model"] == "cgan":
        return _build_conditional_gan(settings, jit_compile)
    generator = models.dcgan_generator(latent_dim, size, channels, width=width, mirror=bool(settings["mirror"]),
                                       upsample=settings["upsample"])
    rate = settings["learning_rate"]
    d_rate, g_rate = settings["d_learning_rate"] or rate, settings["g_learning_rate"] or rate
    if settings["model"] == "dcgan":
        recipe = get_recipe(settings["recipe"] or "dcgan-2015")  # Adam's betas: Radford et al.
        betas = (recipe.beta_1, recipe.beta_2)                    # unless the recipe says otherwise
        discriminator = models.dcgan_discriminator(
            size, channels, width=width, normalization="spectral" if settings["spectral_norm"] else "batch")
        gan = GAN(generator, discriminator, latent_dim, seed=settings["seed"], loss=settings["loss"],
                  augment=(augment.DiffAugment(settings["diffaugment_policy"], seed=settings["seed"])
                           if settings["diffaugment"] else None),
                  ema_decay=settings["ema"], r1_weight=settings["r1"], r1_every=settings["r1_every"])
        optimizers = [keras.optimizers.Adam(r, beta_1=betas[0], beta_2=betas[1]) for r in (d_rate, g_rate)]
    else:
        gan = WGANGP(generator, models.wgan_critic(size, channels, width=width), latent_dim,
                     n_critic=settings["n_critic"], gp_weight=settings["gp_weight"], seed=settings["seed"])
        optimizers = [wgan_gp_adam(r) for r in (d_rate, g_rate)]
    gan.compile(d_optimizer=optimizers[0], g_optimizer=optimizers[1],
                jit_compile="auto" if jit_compile is None else jit_compile)
    return gan


def _build_conditional_gan(settings, jit_compile):
    """--model cgan: the conditional DCGAN of lesson 06 (ganlib.conditional), one class per
    subfolder of --data. DiffAugment uses translation and cutout only: colour changes could
    change a class that is a colour."""
    import keras

    from . import augment, models
    from .conditional import ConditionalGAN

    size, channels, latent_dim, width = (settings[name] for name in ("image_size", "channels",
                                                                      "latent_dim", "width"))
    n_classes, conditioning = len(settings["class_names"]), settings["conditioning"]
    generator = models.conditional_dcgan_generator(latent_dim, n_classes, size, channels, width=width)
    discriminator = models.conditional_dcgan_discriminator(
        n_classes, size, channels, width=width, conditioning=conditioning,
        normalization="spectral" if settings["spectral_norm"] else "batch")
    diffaugment = augment.DiffAugment("translation,cutout", seed=settings["seed"])
    gan = ConditionalGAN(generator, discriminator, latent_dim, n_classes, conditioning=conditioning,
                         loss=settings["loss"], seed=settings["seed"], ema_decay=settings["ema"],
                         augment=diffaugment if settings["diffaugment"] else None)
    rate = settings["learning_rate"]
    rates = (settings["d_learning_rate"] or rate, settings["g_learning_rate"] or rate)
    gan.compile(d_optimizer=keras.optimizers.Adam(rates[0], beta_1=0.5),  # Radford et al. 2015
                g_optimizer=keras.optimizers.Adam(rates[1], beta_1=0.5),
                jit_compile="auto" if jit_compile is None else jit_compile)
    return gan


def _import_tensorflow():
    """TensorFlow, imported with its native start-up messages hidden (see ganlib.setup)."""
    from . import _import_tensorflow

    return _import_tensorflow()


def cmd_train(args) -> int:
    import os

    import numpy as np

    from .runfolder import RunFolder

    if not args.out.strip():
        raise ValueError(f"--out {args.out!r} is empty; give the folder for the run, e.g. --out runs/faces.")
    out_dir = os.path.abspath(os.path.expanduser(args.out))
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"--out {args.out!r} is a file; give a folder for the run.")
    _check_integer("--checkpoint-every", args.checkpoint_every, high=MAX_STEPS)
    _check_can_write("--out", out_dir)
    run = RunFolder(out_dir)
    foreign = run.foreign_files()
    if foreign:  # e.g. a project's own config.json: never replaced, not even with --overwrite
        shown = ", ".join(os.path.relpath(path, out_dir) for path in foreign[:3])
        raise ValueError(f"--out {args.out!r} holds {len(foreign)} file(s) that have the names of ganlib's "
                         f"files but were not written by ganlib ({shown}{', ...' if len(foreign) > 3 else ''}); "
                         "training there would replace them. Choose another --out, or move them away.")
    # a run = a checkpoint or any other file ganlib writes (a finished run whose checkpoints
    # were removed still has its generator.keras, history.json, config.json)
    settings = _run_settings(args, out_dir, run.has_checkpoint(), bool(run.ganlib_files()))
    if settings["data"] not in DATA_SOURCES and os.path.commonpath(
            [os.path.realpath(settings["data"]), os.path.realpath(run.samples)]) == os.path.realpath(settings["data"]):
        # the grids written there become training images: a resumed run would read more images
        # than the run it continues (another data order); a new run may, with a warning
        problem = (f"--data {settings['data']!r} holds --out's samples folder {run.samples!r}, where the run "
                   "writes its grids, which are then read as training images")
        if args.resume:
            raise ValueError(f"{problem}; move the images to a folder outside --out and train a new run there.")
        _show_warning(f"{problem} by a --resume of this run; choose an --out outside the data folder.",
                      UserWarning, "", 0)
    if args.tensorboard is not None:
        _check_writable_folder("--tensorboard", args.tensorboard)
    initial_step, record = _intact_checkpoint_step(out_dir) if args.resume else (0, None)
    if args.resume:
        _check_against_record(settings, record, run.config)
    checkpoint_every = args.checkpoint_every  # a resumed run keeps its own unless given
    if checkpoint_every is None:
        checkpoint_every = (settings.get("checkpoint_every") if args.resume else None) or CHECKPOINT_EVERY
    verbose = not args.quiet

    tf = _import_tensorflow()
    import keras

    import ganlib

    from . import train as training
    from .callbacks import TensorBoardLogger

    ganlib.setup(seed=settings["seed"], verbose=verbose)
    images = _load_images(settings, verbose)
    if args.resume:
        _check_data_record(images, record, settings["data"])
    if settings.get("mirror") and not args.resume:
        _warn_if_not_symmetric(images)
    if settings["model"] == "cgan":
        if settings.get("class_names") not in (None, list(images.class_names)):
            raise ValueError(f"--data {settings['data']!r} now has the classes {', '.join(images.class_names)}; "
                             f"the run was trained on {', '.join(settings['class_names'])}.")
        settings["class_names"] = list(images.class_names)
        if args.samples is None and not args.resume and images.n_classes <= 12:
            settings["samples"] = images.n_classes ** 2  # a square grid, one class per column
    strategy = _strategy(args.distribute)
    replicas = strategy.num_replicas_in_sync
    global_batch = settings["batch_size"] * replicas
    if len(images) < global_batch:
        raise ValueError(f"--batch-size={settings['batch_size']} x {replicas} device(s) = {global_batch} "
                         f"is more than the {len(images)} images of the data set; use --batch-size <= "
                         f"{max(1, len(images) // replicas)}.")
    # uint8 batches, converted in the train step: the same images in the same order with the
    # same float values as float32 batches (tests/test_data_uint8.py), a quarter of the bytes
    batches = images.pipeline(batch_size=global_batch, seed=settings["seed"], dtype="uint8")
    previous_policy = keras.mixed_precision.global_policy()
    lock = None
    try:
        if settings["mixed_precision"]:
            keras.mixed_precision.set_global_policy("mixed_float16")
        with strategy.scope():
            gan = _build_gan(settings, args.jit)
        lock = run.lock()  # one training per run folder (a second one: a one-line error)
        run.remove_leftovers()  # hidden partial files of a killed run's writes
        if not (args.resume or args.overwrite) and run.ganlib_files():  # written since the check above
            raise ValueError(f"--out {out_dir!r} already holds a run; add --resume to continue it, "
                             "--overwrite to start it afresh, or choose another --out.")
        if args.overwrite:  # the old run's files go first: a killed new run never leaves
            run.remove_ganlib_files()  # the old generator.keras for sample/inpaint to use
        os.makedirs(out_dir, exist_ok=True)
        config = {name: settings.get(name) for name in (*RUN_SETTINGS, *BUDGET_SETTINGS)}
        if "class_names" in settings:  # --model cgan: label i is the i-th class folder
            config["class_names"] = settings["class_names"]
        config["checkpoint_every"] = checkpoint_every
        old = _read_config(out_dir) if args.resume and os.path.exists(run.config) else None
        if old is None or any((config[name] or 0) > (old.get(name) or 0) for name in BUDGET_SETTINGS):
            run.write_config(config)  # a --resume with a shorter budget keeps the run's own
        if verbose:
            device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
            print(f"{settings['model']} on {images.description}: {len(images)} images of "
                  f"{settings['image_size']}x{settings['image_size']}x{settings['channels']}, "
                  f"{replicas} {device} replica{'s' if replicas > 1 else ''} x batch "
                  f"{settings['batch_size']} = {global_batch} images per step"
                  + (", mixed float16" if settings["mixed_precision"] else "")
                  + (", XLA" if gan.jit_compile else "") + f"; run folder {out_dir}")
            print(_recipe_line(settings) + "; " + _budget_line(settings, device))
            if settings["mixed_precision"] and device == "CPU":
                print("note: mixed precision is for GPUs; on a CPU float16 is slower than float32.")
        extra_callbacks = []
        if args.tensorboard:
            noise = np.random.default_rng(settings["seed"]).standard_normal(
                (min(settings["samples"], 64), settings["latent_dim"])).astype(np.float32)
            extra_callbacks.append(TensorBoardLogger(args.tensorboard, noise, initial_step=initial_step))
        try:
            history = training.fit_gan(
                gan, batches, settings.get("epochs"), out_dir,
                checkpoint_every=checkpoint_every, resume=args.resume, n_samples=settings["samples"],
                sample_seed=settings["seed"], sample_every="spaced", callbacks=extra_callbacks,
                verbose=int(verbose), cpu_seconds=settings.get("cpu_seconds"),
                wall_seconds=settings.get("wall_seconds"),
                run_info={"settings": {name: settings.get(name) for name in RUN_SETTINGS},
                          "data": _data_fingerprint(images)})
        except ValueError as error:
            raise _resume_error(error, args) from None
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
        if lock is not None:
            lock.close()
    if history.status != "completed":
        print(f"error: training {history.status}.", file=sys.stderr)
        return 1
    if verbose:
        verdict = discriminator_verdict(history)
        if verdict:
            print(verdict)
    return 0


def discriminator_verdict(history, last: int = 200) -> str | None:
    """One line when D has won: over the last ``last`` steps it calls real images real and
    generated ones fake with near certainty (mean D(x) > 0.9, mean D(G(z)) < 0.05). Then G's
    gradient is tiny and more of the same training rarely helps. None otherwise (or for
    models without d_real/d_fake)."""
    import numpy as np

    real, fake = history.get("d_real") or [], history.get("d_fake") or []
    if len(fake) < last:
        return None
    real, fake = float(np.nanmean(real[-last:])), float(np.nanmean(fake[-last:]))
    if real > 0.9 and fake < 0.05:
        return (f"note: the discriminator has won (over the last {last} steps mean D(x) = {real:.2f}, "
                f"D(G(z)) = {fake:.3f}): the generator learns little more from it. Use the samples of an "
                "earlier epoch, or train again with --diffaugment or a lower --d-learning-rate.")
    return None


def _load_keras(path, what):
    import zipfile

    import keras

    if str(path).lower().endswith(".keras"):  # a .keras file is a zip archive: check it whole first
        try:
            with zipfile.ZipFile(path) as archive:
                broken = archive.testzip()
        except (OSError, zipfile.BadZipFile, EOFError) as error:
            broken = str(error) or type(error).__name__
        if broken is not None:  # Keras would say "File not found" of a truncated file that exists
            raise ValueError(f"{what} {path!r} could not be loaded: it is damaged (truncated or changed: "
                             f"{broken}), not a complete .keras file.")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as error:  # a corrupt or foreign file: a user error, not a bug
        raise ValueError(f"{what} {path!r} could not be loaded as a Keras model "
                         f"({type(error).__name__}: {_one_line(error)[:200]}).") from None


def load_run_networks(run, need_discriminator=False):
    """The generator (and discriminator) of a .keras file or a run folder made by ``train``.

    A run folder gives its ``generator.keras`` / ``discriminator.keras`` when the run
    finished, else the networks are rebuilt from its ``config.json`` and filled from its
    newest intact checkpoint (so an interrupted run can be sampled too); a damaged newer one
    is named in a warning line and left as it is.
    """
    import os

    from .callbacks import restore_newest_checkpoint
    from .runfolder import RunFolder

    if not os.path.exists(run):
        raise ValueError(f"MODEL={run!r} does not exist; give a generator .keras file or a run folder "
                         "made by 'python -m ganlib train'.")
    if os.path.isfile(run) and not need_discriminator and not run.lower().endswith((".keras", ".h5")):
        raise ValueError(f"MODEL={run!r} is not a .keras file; give a generator .keras file or a run folder "
                         "made by 'python -m ganlib train'.")
    if os.path.isfile(run):
        if need_discriminator:
            raise ValueError(f"--model {run!r} is a file; inpainting needs a run folder with both "
                             "generator.keras and discriminator.keras.")
        return _load_keras(run, "MODEL"), None
    folder = RunFolder(run)
    if (os.path.exists(folder.generator) and (not need_discriminator or os.path.exists(folder.discriminator))
            and _final_networks_are_newest(folder)):
        try:
            generator = _load_keras(folder.generator, "generator")
            discriminator = _load_keras(folder.discriminator, "discriminator") if need_discriminator else None
            return generator, discriminator
        except ValueError as error:
            if not folder.has_checkpoint():
                raise
            # the checkpoints hold the same networks: use them, as --resume does
            _show_warning(f"{error} Using the run's newest intact checkpoint instead.", UserWarning, "", 0)
    if not folder.has_checkpoint():
        if need_discriminator and os.path.exists(folder.generator):
            raise ValueError(f"--model {run!r} holds generator.keras but no discriminator.keras and no "
                             "checkpoint; inpainting needs both networks: give a run folder made by "
                             "'python -m ganlib train'.")
        raise ValueError(f"run folder {run!r} holds no generator.keras and no checkpoint; train it first "
                         "with 'python -m ganlib train --out ...'.")
    import keras

    settings = _read_config(run, "--model" if need_discriminator else "MODEL")
    previous_policy = keras.mixed_precision.global_policy()
    try:
        if settings.get("mixed_precision"):  # the checkpoint holds the loss scale's variables
            keras.mixed_precision.set_global_policy("mixed_float16")
        gan = _build_gan(settings, jit_compile=False)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    restore_newest_checkpoint(gan, folder.checkpoints)  # damaged ones: one warning line each
    # the generator the run samples from: the running average when it keeps one (--ema), as
    # its grids and generator.keras are
    return gan.sampling_generator, gan.discriminator


def _final_networks_are_newest(folder) -> bool:
    """Whether the run's ``generator.keras`` is its newest state: no checkpoint is newer than
    the last step of ``history.json`` (both written at the end of a run). A run resumed and
    then killed, or killed while its networks were saved, has a newer checkpoint: that wins."""
    from .runfolder import checkpoint_files

    files = checkpoint_files(folder.checkpoints)
    if not files:
        return True
    try:
        steps = folder.read_history().get("step") or [0]
    except ValueError:  # no history.json: killed before the end, the checkpoint is newer
        return False
    return isinstance(steps, list) and steps[-1] >= files[-1][0]


def _check_generator(generator, where):
    shape = tuple(generator.input_shape[1:]) if not isinstance(generator.input_shape, list) else None
    out = generator.output_shape
    if shape is None or len(shape) != 1 or isinstance(out, list) or len(out) != 4:
        raise ValueError(f"{where} is not a generator: it takes inputs of shape {generator.input_shape} "
                         f"and makes {out}; a generator takes latent vectors (latent_dim,) and makes "
                         "images (H, W, C).")
    return shape[0]


def _sample_labels(generator, args):
    """latent_dim and the labels to draw from a conditional generator, from --label (a class
    number or a class folder's name, from the run's config.json) or every class in turn."""
    import os

    import numpy as np

    from .conditional import check_labels, cycling_labels
    from .runfolder import RunFolder

    try:
        n_classes = int(generator.get_layer("label_one_hot").num_tokens)
        latent_dim = int(generator.inputs[0].shape[-1])
        if len(generator.inputs[0].shape) != 2 or len(generator.output_shape) != 4:
            raise ValueError("a discriminator")
    except (ValueError, AttributeError, TypeError):
        raise ValueError(f"MODEL={args.model!r} takes inputs {generator.input_shape}; it is not a generator "
                         "made by 'train --model cgan'.") from None
    names = []
    if os.path.isdir(args.model) and os.path.exists(RunFolder(args.model).config):
        names = [str(name) for name in RunFolder(args.model).read_config().get("class_names") or []]
    if args.label is None:
        return latent_dim, cycling_labels(args.n, n_classes)
    import unicodedata

    def same_form(text):  # a name typed in NFC matches a folder name stored in NFD (macOS)
        return unicodedata.normalize("NFC", text)

    wanted = same_form(args.label)
    normalised = [same_form(name) for name in names]
    # class folders named by numbers ("1", "2", "10"): --label is a name, never a position,
    # or "--label 1" could mean the folder "1" or the second folder in sorted order ("10")
    numeric_names = any(name.strip().lstrip("-").isdigit() for name in normalised)
    if wanted in normalised:
        label = normalised.index(wanted)
    else:
        label = None
        if not numeric_names:
            try:
                label = int(args.label)
            except ValueError:
                label = None
        if label is None or not 0 <= label < n_classes:
            shown = ", ".join(names[:20]) + (f", ... ({len(names)} in all)" if len(names) > 20 else "")
            if numeric_names:
                raise ValueError(f"--label={args.label} is not a class of this run; its class folders are named by "
                                 f"numbers, so give a folder name: {shown}.")
            known = f" or a class name ({shown})" if names else ""
            raise ValueError(f"--label={args.label} is not a class of this run; use a number from 0 to "
                             f"{n_classes - 1}{known}.")
    return latent_dim, check_labels(np.full(args.n, label), n_classes, name="--label")


def cmd_sample(args) -> int:
    import os

    import numpy as np

    from .plotting import save_image_grid

    _check_integer("--n", args.n, high=MAX_SAMPLES)
    _check_integer("--seed", args.seed, low=0, high=LIMITS["seed"])
    _check_integer("--columns", args.columns, high=MAX_SAMPLES)
    _check_integer("--scale", args.scale, high=MAX_SCALE)
    _check_image_path("--out", args.out)
    _check_outputs({"--out": args.out}, {"MODEL": args.model}, args.overwrite)
    _import_tensorflow()
    generator, _ = load_run_networks(args.model)
    _check_grid_size(generator.output_shape, args)
    if isinstance(generator.input_shape, list):  # a conditional generator: [z, label]
        latent_dim, labels = _sample_labels(generator, args)
        noise = np.random.default_rng(args.seed).standard_normal((args.n, latent_dim)).astype(np.float32)
        images = np.asarray(generator.predict([noise, labels], batch_size=64, verbose=0), dtype=np.float32)
    else:
        if args.label is not None:
            raise ValueError(f"--label applies to conditional runs (train --model cgan); MODEL={args.model!r} "
                             "is an unconditional generator.")
        latent_dim = _check_generator(generator, f"MODEL={args.model!r}")
        noise = np.random.default_rng(args.seed).standard_normal((args.n, latent_dim)).astype(np.float32)
        images = np.asarray(generator.predict(noise, batch_size=64, verbose=0), dtype=np.float32)
    save_image_grid(images, args.out, ncols=args.columns, scale=args.scale)
    print(f"Saved {args.n} samples of {'x'.join(map(str, images.shape[1:]))} to {os.path.abspath(args.out)}")
    return 0


def _conditional_cannot_inpaint(model):
    """A --model cgan run: one line saying so (its generator also needs a label)."""
    import os

    from .runfolder import RunFolder

    config_path = RunFolder(model).config if os.path.isdir(model) else None
    if config_path and os.path.isfile(config_path):
        try:
            kind = _read_config(model, "--model").get("model")
        except ValueError:
            return  # a damaged config.json is reported where the networks are loaded
        if kind == "cgan":
            raise ValueError(f"--model {model!r} is a conditional run (--model cgan): its generator needs a "
                             "class label as well as noise, and inpainting with one is not supported (yet); "
                             "use a dcgan or wgan-gp run.")


def cmd_inpaint(args) -> int:
    import os

    import numpy as np
    from PIL import Image

    from . import inpaint as inpainting
    from .data import load_image
    from .plotting import _atomic_save, display_uint8, image_grid

    _check_integer("--steps", args.steps, high=MAX_STEPS)
    _check_integer("--candidates", args.candidates, high=MAX_SAMPLES)
    _check_integer("--seed", args.seed, low=0, high=LIMITS["seed"])
    _check_image_path("--out", args.out)
    _check_number("--perceptual-weight", args.perceptual_weight, low=0)
    if args.panel:
        _check_image_path("--panel", args.panel)
    if not os.path.isfile(args.image):
        raise ValueError(f"IMAGE={args.image!r} is not a file; give the image to complete.")
    _check_outputs({"--out": args.out, "--panel": args.panel},
                   {"IMAGE": args.image, "--mask": args.mask}, args.overwrite)
    mask_is_file = args.mask not in inpainting.MASK_KINDS
    if mask_is_file and not os.path.isfile(args.mask):
        raise ValueError(f"--mask={args.mask!r} is neither a mask kind ({', '.join(inpainting.MASK_KINDS)}) "
                         "nor a PNG file.")
    _conditional_cannot_inpaint(args.model)
    _import_tensorflow()
    generator, discriminator = load_run_networks(args.model, need_discriminator=True)
    _check_generator(generator, f"--model {args.model!r}")
    height, width, channels = generator.output_shape[1:]
    try:
        image = load_image(args.image, image_size=(height, width), channels=channels)
    except (OSError, Image.DecompressionBombError) as error:  # the bomb: more pixels than PIL allows
        raise ValueError(f"IMAGE={args.image!r} could not be read as an image ({_one_line(error)}); "
                         "give a PNG or JPEG of sensible size.") from None
    if mask_is_file:
        try:
            mask = inpainting.mask_from_png(args.mask, image_size=(height, width), invert=args.invert_mask)
        except ValueError as error:  # mask_from_png's own: names its path argument
            raise _with_option("--mask", args.mask, error) from None
        except (OSError, Image.DecompressionBombError) as error:
            raise ValueError(f"--mask={args.mask!r} could not be read as an image ({_one_line(error)}); "
                             "give a PNG of sensible size with the hole in black.") from None
    else:
        mask = inpainting.make_mask(args.mask, (height, width), **({"seed": args.seed}
                                                                     if args.mask == "random" else {}))
    if mask.min() == 1.0:
        raise ValueError(f"--mask {args.mask!r} marks no pixel as missing; nothing to fill.")
    if mask.max() == 0.0:  # said in the CLI's words (inpaint() would say "masks[0] has no known pixel")
        raise ValueError(f"--mask {args.mask!r} marks every pixel as missing, so nothing of the image is left "
                         "to fill from; in a mask file white is known and black is missing.")
    completed = inpainting.inpaint(generator, discriminator, image, mask, steps=args.steps,
                                   n_candidates=args.candidates, perceptual_weight=args.perceptual_weight,
                                   blend=not args.no_blend, seed=args.seed, progress=not args.quiet)
    _atomic_save(Image.fromarray(display_uint8(completed)[0]), args.out)  # never a cut or 0-byte file
    print(f"Saved the completed {height}x{width} image to {os.path.abspath(args.out)} "
          f"({int(round((1 - mask.mean()) * 100))}% of its pixels filled)")
    if args.panel:
        with_hole = image * mask  # the hole in mid-grey (0 in [-1, 1])
        _atomic_save(Image.fromarray(image_grid(np.stack([image, with_hole, completed]), ncols=3)), args.panel)
        print(f"Saved original | with hole | completed to {os.path.abspath(args.panel)}")
    return 0


def cmd_toy(args) -> int:
    _check_integer("--steps", args.steps, high=MAX_STEPS)
    _check_integer("--d-steps", args.d_steps, high=LIMITS["n_critic"])
    _check_integer("--batch-size", args.batch_size, high=MAX_TOY_BATCH)
    _check_integer("--seed", args.seed, low=0, high=LIMITS["seed"])
    if not 0.0 <= args.decay_to <= 1.0:
        raise ValueError(f"--decay-to={args.decay_to} is outside [0, 1].")
    _check_number("--mean", args.mean, low=-MAX_TOY_TARGET, high=MAX_TOY_TARGET)
    _check_number("--std", args.std, low=0, high=MAX_TOY_TARGET, low_open=True)
    if args.gif is not None:  # checked before training, so a bad path fails in a second, not after it
        import os

        if os.path.splitext(args.gif)[1].lower() != ".gif":
            raise ValueError(f"--gif={args.gif!r} does not end in .gif; give the animation's file, e.g. --gif toy.gif.")
        folder = os.path.dirname(os.path.abspath(args.gif))
        if not os.path.isdir(folder):
            raise ValueError(f"--gif={args.gif!r}: the folder {folder!r} does not exist; create it first or "
                             "give a path in an existing folder.")
    _import_tensorflow()
    from . import toy

    target = toy.gaussian_1d(args.mean, args.std)
    history = toy.train_toy_gan(target, args.steps, loss="gan", d_steps=args.d_steps, seed=args.seed,
                                batch_size=args.batch_size, decay_to=args.decay_to,
                                record_every=max(1, args.steps // 10))
    print(f"GAN on {target}: {args.steps} generator steps (k = {args.d_steps}) in "
          f"{history['wall_seconds']:.1f} s")
    for step, w1 in zip(history["step"], history["w1"]):
        print(f"  step {step:>6}  W1 {w1:.4f}")
    floor = toy.w1_floor(target)
    print(f"W1 {history['w1'][-1]:.4f} (a perfect generator would show about {floor:.4f} on "
          "10,000 samples)")
    if args.gif:
        print(f"Saved the animation to {toy.animate_1d(history, args.gif)}")
    return 0


def main(argv=None) -> int:
    import errno
    import warnings

    parser = build_parser()
    args = parser.parse_args(argv)
    _escape_unencodable_output()
    try:
        with warnings.catch_warnings(), _quiet_if(getattr(args, "quiet", False)):
            warnings.showwarning = _show_warning
            return args.func(args)
    except KeyboardInterrupt:
        print(f"error: interrupted{_resume_hint(args)}", file=sys.stderr)
        return 130
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            print(f"error: {_one_line(error)}", file=sys.stderr)
            return 2
        where = f" writing {error.filename}" if error.filename else ""
        print(f"error: the disk is full{where} ({error.strerror or error}); ganlib removed its partly "
              f"written file: free some space or choose another --out{_resume_hint(args)}", file=sys.stderr)
        return 1
    except ValueError as error:  # user errors: one clear line, no traceback
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 2
    except Exception as error:
        if not _is_out_of_memory(error):
            raise  # a bug: keep the traceback
        print(f"error: out of memory ({_one_line(error)[:160]}); lower --batch-size, --image-size "
              f"or --width, or on a GPU add --mixed-precision{_resume_hint(args)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
