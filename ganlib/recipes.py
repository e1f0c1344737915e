"""Named recipes for image GANs, and training one for a fixed budget of CPU time or steps.

Lesson 03 compares recipes on equal terms: each is trained for the same number of CPU
seconds (``time.process_time`` of the process, all threads counted), so a recipe whose
steps cost more gets fewer of them. On a GPU the same comparison counts training steps
(``train_for_cpu_seconds(..., steps=...)``): the host mostly waits for the device there, and
these recipes' steps cost the same arithmetic to within 0.2% (``docs/gpu_estimates.md``).
``python -m ganlib bench --quality`` runs the same
comparison from the command line. A recipe only says *how* to train; the networks' size
(``width``), the image size and the batch are the caller's, the same for every recipe.

Each recipe adds one habit of the post-2017 GAN literature (or, for ``dcgan+ema+mirror``, one
prior about the data) to ``dcgan-2015`` or to the recipe above it:

* ``dcgan-2015``: Radford et al. 2015 as published: batch norm in both networks, the
  cross-entropy loss, Adam(2e-4, beta_1 0.5) for both.
* ``dcgan+ema``: the same, sampling from a running average of G's weights (Karras et al.
  2018; Yazici et al. 2019), which smooths out the last steps' oscillation. Measured on the
  16x16 procedural sprites (width 32, batch 64, seed 0; ``bench --quality`` run 2 in
  benchmarks/README.md): it reached the best C2ST accuracy plain DCGAN had in 480 CPU s
  (0.779, at 240 s) after 60 CPU s, 4.0x less CPU time, with the same recall.
* ``dcgan+ema+mirror``: ``dcgan+ema`` whose generator ends in ``models.MirrorSymmetric``
  (it draws the left half and mirrors it): a prior for left-right symmetric images, not a
  habit of the literature. Measured on the 16x16 procedural sprites, which are symmetric
  (``bench --quality`` run 3 in benchmarks/README.md: width 32, batch 64, seed 0): it reached
  plain DCGAN's best C2ST of 480 CPU s (0.790, at 240 s) by 60 CPU s, 4.0x less CPU time, and
  0.619 at 480 s (DCGAN 0.843), precision 0.75 against 0.37. Wrong for data that are not
  symmetric.
* ``dcgan+shift+ema``: ``dcgan+ema`` with DiffAugment's translation and cutout only (no colour
  changes, which would shift the palette a data set is made of). On held-out emoji (600 CPU s,
  seed 0) D stayed balanced but the samples covered 5% of the data (C2ST 1.000).
* ``dcgan+diffaugment``: ``dcgan-2015`` with differentiable augmentation of everything D sees
  (colour, translation, cutout; Zhao et al. 2020), against a small data set's overfitting D.
* ``dcgan+diffaugment+ema``: ``dcgan+diffaugment`` sampling from the averaged G. On the sprites, at budgets of a
  few minutes, DiffAugment cost diversity (recall 0.14-0.25 against 0.56-0.59 without it, run 1): a
  few thousand sprites are not yet a small data set for a D that trained only minutes.
* ``sn-hinge+diffaugment+ema``: a spectrally normalised D without batch norm and the hinge loss
  (Miyato et al. 2018; Lim & Ye 2017), with two learning rates (TTUR, Heusel et al. 2017).
* ``dcgan+diffaugment+ema+r1``: the cross-entropy loss with an R1 penalty on real data (Mescheder et al. 2018),
  lazily every 16 steps (Karras et al. 2020).
* ``dcgan+diffaugment+ema+lr5e-4``: ``dcgan+diffaugment+ema`` with Adam's step size raised from the paper's 2e-4 to 5e-4 for
  both networks. Measured on the 16x16 procedural sprites (width 32, batch 64, 240 CPU s):
  precision 0.46 against 0.40 at 2e-4, more single-coloured bodies; a budget knob, not a
  published habit.
"""
from __future__ import annotations

import dataclasses
import time

from ._checks import check_choice, check_positive, check_seed
from .defaults import DCGAN_BETAS, DCGAN_LEARNING_RATE, WGAN_GP_BETAS


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to train an image GAN: the discriminator's normalisation, the loss, the extras.

    The attributes are the arguments of ``ganlib.models.dcgan_discriminator``,
    ``ganlib.models.dcgan_generator`` and ``ganlib.train.GAN`` they stand for.

    Attributes:
        name: the key in ``RECIPES`` (e.g. 'dcgan+ema').
        summary: one line saying what the recipe adds.
        normalization: the discriminator's, 'batch' (Radford et al. 2015) or 'spectral'
            (Miyato et al. 2018).
        loss: 'bce' (Goodfellow et al. 2014) or 'hinge' (Lim & Ye 2017).
        diffaugment: DiffAugment on real and generated images (Zhao et al. 2020).
        diffaugment_policy: its policy; default 'color,translation,cutout', theirs for
            small data sets.
        ema_decay: the averaged generator's decay, or None (Karras et al. 2018 use 0.999).
        r1_weight: gamma of the R1 penalty (Mescheder et al. 2018); 0 adds none.
        r1_every: lazy R1, every n-th discriminator update (Karras et al. 2020: 16).
        d_learning_rate: the discriminator's Adam step size (Radford et al. 2015: 2e-4).
        g_learning_rate: the generator's Adam step size (Radford et al. 2015: 2e-4).
        mirror: a ``ganlib.models.MirrorSymmetric`` layer ends the generator (symmetric
            data only).
        upsample: the generator's, 'transposed' (Radford et al. 2015) or 'resize' (Odena
            et al. 2016).
        beta_1: Adam's beta_1 (Radford et al. 2015: 0.5).
        beta_2: Adam's beta_2 (0.999, Adam's own).
        adaptive_augment: ``ganlib.augment.AdaptiveAugment`` with ``diffaugment_policy``: each
            transformation applied with a probability that rises while D is too sure of the
            real images (Karras et al. 2020); ``diffaugment`` must then be False.
    """

    def __post_init__(self):
        if self.adaptive_augment and self.diffaugment:
            raise ValueError(f"recipe {self.name!r}: diffaugment=True augments every image and "
                             "adaptive_augment=True a share p of them; give one of the two.")


    name: str
    summary: str
    normalization: str = "batch"        # D: 'batch' (Radford et al. 2015) or 'spectral'
    loss: str = "bce"                   # 'bce' (Goodfellow et al. 2014) or 'hinge'
    diffaugment: bool = False           # Zhao et al. 2020
    diffaugment_policy: str = "color,translation,cutout"  # their policy for small data sets
    ema_decay: float | None = None      # Karras et al. 2018: 0.999
    r1_weight: float = 0.0              # gamma, Mescheder et al. 2018
    r1_every: int = 16                  # lazy R1, Karras et al. 2020
    d_learning_rate: float = DCGAN_LEARNING_RATE    # Radford et al. 2015
    g_learning_rate: float = DCGAN_LEARNING_RATE
    mirror: bool = False                # G: models.MirrorSymmetric at the end (symmetric data only)
    upsample: str = "transposed"        # G: 'transposed' (Radford et al.) or 'resize' (Odena et al. 2016)
    beta_1: float = DCGAN_BETAS[0]                  # Radford et al. 2015
    beta_2: float = DCGAN_BETAS[1]
    adaptive_augment: bool = False      # ADA (Karras et al. 2020) with DiffAugment's transformations


RECIPES = {
    recipe.name: recipe
    for recipe in (
        Recipe("dcgan-2015", "DCGAN as published (Radford et al. 2015)"),
        Recipe("dcgan+ema", "DCGAN + averaged G (Karras et al. 2018)", ema_decay=0.999),
        Recipe("dcgan+ema+mirror", "DCGAN + averaged G + a mirror-symmetric G (for symmetric images)",
               ema_decay=0.999, mirror=True),
        Recipe("dcgan+diffaugment", "DCGAN + DiffAugment (Zhao et al. 2020)", diffaugment=True),
        Recipe("dcgan+diffaugment+ema", "DCGAN + DiffAugment + averaged G (Karras et al. 2018)", diffaugment=True,
               ema_decay=0.999),
        Recipe("sn-hinge+diffaugment+ema", "SN-GAN-style D with hinge loss and TTUR + DiffAugment + averaged G",
               normalization="spectral", loss="hinge", diffaugment=True, ema_decay=0.999,
               d_learning_rate=4e-4, g_learning_rate=1e-4, beta_1=WGAN_GP_BETAS[0], beta_2=WGAN_GP_BETAS[1]),
        Recipe("dcgan+diffaugment+ema+r1", "DCGAN + DiffAugment + averaged G + lazy R1 penalty", diffaugment=True,
               ema_decay=0.999, r1_weight=1.0),
        Recipe("dcgan+diffaugment+ema+lr5e-4", "DCGAN + DiffAugment + averaged G, Adam 5e-4 for both networks",
               diffaugment=True, ema_decay=0.999, d_learning_rate=5e-4, g_learning_rate=5e-4),
        # Candidates for real images (bench --quality --data emoji, 600 CPU s): no prior about
        # the data. Measured worse than dcgan+ema there (benchmarks/README.md): C2ST 0.994-0.999
        # against 0.922, recall 0.01-0.04 against 0.38 (run 1); kept so the tables can be reproduced.
        # Run 3 candidates against the strong discriminator of dcgan+ema (D(x) 0.9, D(G(z)) 0.1);
        # dcgan+ema+r1 became CPU_RECIPE, dcgan+ema+slow-d reached 0.744 on seed 0 (benchmarks/README.md):
        Recipe("dcgan+ema+r1", "DCGAN + averaged G + lazy R1 penalty on real images (Mescheder et al. 2018), "
               "gamma 0.1", ema_decay=0.999, r1_weight=0.1),
        # Run 4 (issue 23): on 80 LFW faces R1 left D saturated (0.92 / 0.08) where DiffAugment did
        # not; adaptive augmentation turns augmentation on only as far as D needs it:
        Recipe("dcgan+ema+r1+ada", "DCGAN + averaged G + lazy R1 (gamma 0.1) + adaptive augmentation "
               "(Karras et al. 2020) with DiffAugment's transformations", ema_decay=0.999, r1_weight=0.1,
               adaptive_augment=True),
        Recipe("dcgan+ema+slow-d", "DCGAN + averaged G, D's Adam step size halved (1e-4; G keeps 2e-4)",
               ema_decay=0.999, d_learning_rate=1e-4, g_learning_rate=DCGAN_LEARNING_RATE),
        Recipe("dcgan+shift+ema", "DCGAN + DiffAugment (translation, cutout; Zhao et al. 2020) + averaged G",
               ema_decay=0.999, diffaugment=True, diffaugment_policy="translation,cutout"),
        Recipe("resize+ema", "DCGAN with a resize-convolution G (Odena et al. 2016) + averaged G",
               ema_decay=0.999, upsample="resize"),
        Recipe("resize+shift+ema", "resize-convolution G + averaged G + DiffAugment (translation, cutout)",
               ema_decay=0.999, upsample="resize", diffaugment=True, diffaugment_policy="translation,cutout"),
        Recipe("resize+sn-hinge+shift+ema", "resize-convolution G + SN D with hinge loss + DiffAugment "
               "(translation, cutout) + averaged G", ema_decay=0.999, upsample="resize", diffaugment=True,
               diffaugment_policy="translation,cutout", normalization="spectral", loss="hinge"),
    )
}


#: The recipe of ``python -m ganlib train`` without a GPU, and of lesson 07: the candidate that
#: did best on held-out OpenMoji emoji for 600 CPU s (``bench --quality --data emoji``, 32x32,
#: width 32, batch 64, one drawing per emoji, one thread per run): C2ST 0.665 +- 0.012 over seeds
#: 0-2 (floor 0.487), where ``dcgan+ema`` reached 0.774 +- 0.036 (run 2) and, beside it in run 3,
#: 0.714 and 0.737 on seeds 0 and 1 (paired gain 0.063 and 0.068); the resize, DiffAugment and SN-hinge candidates stayed at 0.99-1.00;
#: benchmarks/README.md has the tables.
CPU_RECIPE = "dcgan+ema+r1"


#: The names these recipes had before each name said everything its recipe adds to
#: ``dcgan-2015`` ("+ema" was DiffAugment *and* the average, next to "dcgan+ema", the average
#: alone). Still accepted wherever a recipe name is (run folders and scripts keep working).
RENAMED = {"+diffaugment": "dcgan+diffaugment", "+ema": "dcgan+diffaugment+ema",
           "+sn-hinge": "sn-hinge+diffaugment+ema", "+r1": "dcgan+diffaugment+ema+r1",
           "+higher-lr": "dcgan+diffaugment+ema+lr5e-4"}


def current_name(name):
    """The name a recipe has today: an earlier name (``RENAMED``) gives its current one; any
    other value (a current name, an unknown one, None) comes back unchanged, for the caller
    to check."""
    return RENAMED.get(name, name) if isinstance(name, str) else name


def get_recipe(recipe) -> Recipe:
    """A ``Recipe`` from itself, its name in ``RECIPES`` or an earlier name (``RENAMED``)."""
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, str) and recipe in RENAMED:
        return RECIPES[RENAMED[recipe]]
    return RECIPES[check_choice("recipe", recipe, tuple(RECIPES))]


def build_gan(recipe, image_size: int, channels: int, width: int, latent_dim: int = 100,
              seed: int = 0, jit_compile="auto"):
    """A compiled ``ganlib.train.GAN`` of DCGAN networks trained the way ``recipe`` says."""
    import keras

    from . import augment, models
    from .train import GAN

    recipe = get_recipe(recipe)
    seed = check_seed("seed", seed)
    keras.utils.set_random_seed(seed)
    generator = models.dcgan_generator(latent_dim, image_size, channels, width=width, mirror=recipe.mirror,
                                       upsample=recipe.upsample)
    discriminator = models.dcgan_discriminator(image_size, channels, width=width,
                                               normalization=recipe.normalization)
    gan = GAN(generator, discriminator, latent_dim, seed=seed, loss=recipe.loss,
              augment=(augment.DiffAugment(recipe.diffaugment_policy, seed=seed) if recipe.diffaugment
                       else augment.AdaptiveAugment(recipe.diffaugment_policy, seed=seed)
                       if recipe.adaptive_augment else None),
              ema_decay=recipe.ema_decay, r1_weight=recipe.r1_weight, r1_every=recipe.r1_every)

    def adam(rate):
        return keras.optimizers.Adam(rate, beta_1=recipe.beta_1, beta_2=recipe.beta_2)

    gan.compile(d_optimizer=adam(recipe.d_learning_rate), g_optimizer=adam(recipe.g_learning_rate),
                jit_compile=jit_compile)
    return gan


def _shuffled_batches(images, batch_size: int, seed: int):
    """Endless training batches of ``images`` (N, H, W, C): a new seeded order of the images
    every pass, ``batch_size`` images a batch, a pass's last incomplete batch dropped.

    The same batches in the same order as ``tf.data.Dataset.from_tensor_slices(images)
    .shuffle(len(images), seed=seed, reshuffle_each_iteration=True).batch(batch_size,
    drop_remainder=True).repeat()`` (a shuffle's draws do not depend on what it shuffles), but
    without TensorFlow copies of the images: that pipeline holds one as its tensor and tf.data's
    graph rewrites make another when an iterator is made, and under oneDNN (which ganlib turns
    on for CPUs) TensorFlow's CPU allocator keeps the memory of both for the rest of the
    process. Here the image numbers are shuffled and each batch is gathered from a tensor that
    uses the array's memory (NumPy copies the array first, for as long as the data set lives,
    unless it is float32, C-contiguous, writable and 64-byte aligned), and the rewrites are off.
    """
    import numpy as np
    import tensorflow as tf

    from .data.store import _aligned, _shared_tensor

    pixels = _aligned(images, np.float32)
    view = _shared_tensor(pixels)
    if view is None:  # this NumPy cannot hand its memory to TensorFlow: a TensorFlow copy
        view = tf.constant(pixels)

    def gather(numbers):
        return tf.gather(view, numbers)

    count = len(pixels)
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False  # no rewrite, no copy
    return (tf.data.Dataset.range(count)
            .shuffle(count, seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size, drop_remainder=True).repeat()
            .map(gather)
            .with_options(options))


def train_for_cpu_seconds(recipe, images, cpu_seconds: float | None = None, *, steps: int | None = None,
                          batch_size: int = 32, width: int = 32,
                          latent_dim: int = 100, seed: int = 0, out_dir=None, steps_per_epoch: int = 200,
                          jit_compile="auto", milestones=(), evaluate=None, verbose: int = 0):
    """Train ``recipe`` on ``images`` (N, H, W, C) in [-1, 1] until the process has spent
    ``cpu_seconds`` of CPU time on it, or for exactly ``steps`` training steps (give one of
    the two: CPU seconds compare recipes at equal cost on a CPU; on a GPU, where the host
    mostly waits, count steps); return a dict with the trained ``gan``, ``steps``,
    ``cpu_seconds`` (spent), ``wall_seconds`` and the per-step ``history``.

    With ``out_dir`` the run goes through ``ganlib.train.fit_gan`` (sample grids every epoch
    of ``steps_per_epoch`` steps, checkpoints, the GIF, the saved networks); without it,
    through ``gan.fit`` alone. Either way the budget is checked after every step, so a run
    stops at most one step past a CPU budget (tracing and compiling count towards it) and
    exactly at a budget of steps.

    ``milestones`` (in the budget's unit: CPU seconds below ``cpu_seconds``, or steps below
    ``steps``) with ``evaluate(gan)`` -> dict: the run pauses at each milestone and at the
    end to call ``evaluate`` (its time is not charged to the budget); the results, with
    ``steps`` and ``cpu_seconds``, are returned as ``evaluations``. Not with ``out_dir``.

    The batches are gathered from ``images`` in place while the run lasts (a float32,
    C-contiguous, writable, 64-byte aligned array is not copied; any other is copied once, for
    the run), and no copy of them is left in memory when it returns, so runs one after
    another in the same process do not add up.
    """
    import numpy as np

    from .callbacks import HistoryRecorder, TrainingBudget, TrainingState
    from .train import fit_gan

    if (cpu_seconds is None) == (steps is None):
        raise ValueError(f"give one budget, cpu_seconds or steps (got cpu_seconds={cpu_seconds!r}, "
                         f"steps={steps!r}).")
    if steps is None:
        budget = TrainingBudget(cpu_seconds=check_positive("cpu_seconds", cpu_seconds))
        limit, unit = budget.cpu_seconds, "cpu_seconds"
    else:
        budget = TrainingBudget(max_steps=check_positive("steps", steps, integer=True))
        limit, unit = budget.max_steps, "max_steps"
    batch_size = check_positive("batch_size", batch_size, integer=True)
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"images has shape {images.shape}; expected (N, H, W, C) images in [-1, 1].")
    if batch_size > len(images):
        raise ValueError(f"batch_size={batch_size} is larger than the {len(images)} images; every batch "
                         f"is full, so batch_size must be at most {len(images)}.")
    gan = build_gan(recipe, images.shape[1], images.shape[-1], width, latent_dim, seed, jit_compile)
    dataset = _shuffled_batches(images, batch_size, seed).prefetch(2)
    evaluations = []
    # An upper bound on the steps: the budget stops training long before it.
    epochs = 10_000
    start_wall = time.perf_counter()
    if out_dir is not None:
        history = fit_gan(gan, dataset, epochs, out_dir, steps_per_epoch=steps_per_epoch, resume=False,
                          callbacks=[budget], verbose=verbose, checkpoint_every=None)
        history = dict(history)
    else:
        state = TrainingState()
        recorder = HistoryRecorder(state)
        convert = int if unit == "max_steps" else float
        for stop in sorted({*(convert(m) for m in milestones if 0 < m < limit), limit}):
            setattr(budget, unit, stop)
            gan.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=0,
                    callbacks=[budget, recorder])
            if evaluate is not None:
                # D's view of the last 100 steps: d_fake near 0 with d_real near 1 = D has won
                recent = {name: float(np.mean(state.history[name][-100:]))
                          for name in ("d_real", "d_fake", "augment_p") if state.history.get(name)}
                evaluations.append({"steps": budget.steps, "cpu_seconds": budget.spent, **recent,
                                    **evaluate(gan)})
        history = state.history
    return {"gan": gan, "recipe": get_recipe(recipe), "steps": budget.steps,
            "cpu_seconds": budget.spent, "wall_seconds": time.perf_counter() - start_wall,
            "history": history, "evaluations": evaluations}
