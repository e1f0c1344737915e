"""``GANLIB_SMOKE=1``: every lesson as its preset has it, with a token amount of work.

CI runs the ``gpu`` preset on a CPU this way (``make test-gpu-smoke``): the same networks,
image sizes, data sets, file layouts and code paths as on a Colab T4, so a change that breaks
the GPU path fails CI, but each loop of training or search stops after a few rounds. What
shrinks, and where (the places all of ganlib's training goes through):

* ``STEPS`` training steps per ``fit`` of a ganlib model (``GAN``, ``WGAN``, ``WGANGP``,
  ``ConditionalGAN``): ``fit_gan``, ``recipes.train_for_cpu_seconds`` and a lesson's own
  ``fit`` with a ``TrainingBudget`` all stop there;
* ``TOY_STEPS`` generator steps per ``toy.train_toy_gan`` run (its snapshots and records
  still come, spread over the shorter run);
* ``CLASSIC_ITERATIONS`` iterations of ``classic.ClassicGAN.train`` and of its discriminator's
  pre-training;
* ``SEARCH_STEPS`` Adam steps and at most ``SEARCH_CANDIDATES`` latent vectors per image of
  the inpainting search (``inpaint.search_latents``);
* ``METRIC_IMAGES`` images per set in ``metrics.sliced_wasserstein``, ``image_metrics``,
  ``classifier_two_sample_test`` and ``precision_recall``, and ``METRIC_EPOCHS`` epochs of the
  two-sample classifier.

A lesson's own loops and counts (a hand-written training loop, how many images it generates
for its metrics) are its parameters; the smoke run (``scripts/gpu_smoke.py``) cuts the few that
cost minutes with ``cap`` in a cell it puts after the parameters cell of its copy of the lesson.

Nothing else changes: models, image sizes, batch sizes, data, where files go. Results are
meaningless (a GAN after 2 steps); only that every cell runs is checked.
"""
from __future__ import annotations

import os

#: The environment variable that turns the switch on (1, true, yes or on).
ENV = "GANLIB_SMOKE"

STEPS = 1               # training steps per fit: at 64x64, width 64, one costs 2-4 s on 2 CPU cores
TOY_STEPS = 40          # toy runs are cheap; 40 steps leave room for lesson 01's 40 snapshots
CLASSIC_ITERATIONS = 1  # the classic model: iterations (10 D steps + 1 G step each) and pre-training
SEARCH_STEPS = 2        # inpainting: Adam steps of the latent search
SEARCH_CANDIDATES = 2   # inpainting: latent vectors per image (2: choosing the best still runs)
METRIC_IMAGES = 64      # image_metrics: images per set (its minimum is 20)
METRIC_EPOCHS = 2       # image_metrics: epochs of the two-sample classifier (C2ST)


def active() -> bool:
    """Whether ``GANLIB_SMOKE`` is set (1, true, yes, on), read at each call."""
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


def cap(count, smoke_count):
    """``count``, or at most ``smoke_count`` when the switch is on (None stays None)."""
    if count is None or not active():
        return count
    return min(count, smoke_count)
