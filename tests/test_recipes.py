"""ganlib.recipes: named recipes and training for a budget of CPU seconds or steps."""
import gc

import numpy as np
import pytest
import tensorflow as tf

from ganlib import augment, models, recipes
from ganlib.callbacks import CPUTimeBudget, TrainingBudget


def sprites(count=64, size=16, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (count, size, size, 3)).astype(np.float32)


@pytest.mark.parametrize("name", list(recipes.RECIPES))
def test_each_recipe_builds_the_gan_it_describes(name):
    recipe = recipes.RECIPES[name]
    gan = recipes.build_gan(name, 16, 3, width=4, latent_dim=8)
    assert gan.loss_kind == recipe.loss
    assert (gan.ema_generator is not None) == (recipe.ema_decay is not None)
    assert (type(gan.augment) is augment.DiffAugment) == recipe.diffaugment
    assert isinstance(gan.augment, augment.AdaptiveAugment) == recipe.adaptive_augment
    assert gan.r1_weight == recipe.r1_weight
    spectral = any(isinstance(layer, models.layers.SpectralNormalization) for layer in gan.discriminator.layers)
    assert spectral == (recipe.normalization == "spectral")
    assert float(gan.d_optimizer.learning_rate.numpy()) == pytest.approx(recipe.d_learning_rate)
    assert float(gan.g_optimizer.learning_rate.numpy()) == pytest.approx(recipe.g_learning_rate)
    assert float(gan.g_optimizer.beta_1) == pytest.approx(recipe.beta_1)
    mirrored = any(isinstance(layer, models.MirrorSymmetric) for layer in gan.generator.layers)
    assert mirrored == recipe.mirror
    if recipe.mirror:  # the averaged copy is mirrored too: it is what samples come from
        assert any(isinstance(layer, models.MirrorSymmetric) for layer in gan.ema_generator.layers)


def test_a_recipe_cannot_ask_for_both_kinds_of_augmentation():
    with pytest.raises(ValueError, match="give one of the two"):
        recipes.Recipe("both", "DiffAugment and ADA", diffaugment=True, adaptive_augment=True)


def test_training_stops_at_the_cpu_budget_and_pauses_at_milestones():
    calls = []

    def evaluate(gan):
        calls.append(gan.d_optimizer.iterations.numpy())
        return {"mean": float(np.mean(gan(np.zeros((2, 8), np.float32))))}

    result = recipes.train_for_cpu_seconds("dcgan+diffaugment+ema", sprites(), 6.0, width=4, latent_dim=8, batch_size=16,
                                           milestones=[2.0, 4.0], evaluate=evaluate)
    spent = [row["cpu_seconds"] for row in result["evaluations"]]
    assert len(spent) == 3 and spent[0] >= 2.0 and spent[1] >= 4.0 and spent[2] >= 6.0
    # each stop is at most a few steps past its milestone (a step costs far less than a second here)
    assert spent[2] < 6.0 + 1.0
    steps = [row["steps"] for row in result["evaluations"]]
    assert steps[0] < steps[1] < steps[2] == result["steps"] == len(result["history"]["step"])
    assert list(calls) == steps  # D updates = steps


def test_budget_counts_only_time_inside_fit():
    budget = CPUTimeBudget(100.0)
    budget.on_train_begin()
    budget.on_train_batch_end(0)
    first = budget.spent
    sum(i * i for i in range(3_000_000))  # CPU time outside fit
    budget.on_train_begin()
    budget.on_train_batch_end(0)
    assert budget.steps == 2 and budget.spent - first < 0.05


def test_a_budget_of_steps_trains_exactly_that_many_and_pauses_at_milestones():
    calls = []
    result = recipes.train_for_cpu_seconds("dcgan+ema", sprites(), steps=5, width=4, latent_dim=8, batch_size=16,
                                           steps_per_epoch=3, milestones=[2],
                                           evaluate=lambda gan: calls.append(int(gan.d_optimizer.iterations)) or {})
    assert result["steps"] == 5 == len(result["history"]["step"])
    assert [row["steps"] for row in result["evaluations"]] == calls == [2, 5]
    assert result["cpu_seconds"] > 0  # spent, reported beside the steps


def test_a_budget_of_steps_through_fit_gan_stops_exactly(tmp_path):
    result = recipes.train_for_cpu_seconds("dcgan-2015", sprites(), steps=4, width=4, latent_dim=8, batch_size=16,
                                           steps_per_epoch=3, out_dir=tmp_path / "run")
    assert result["steps"] == 4 == len(result["history"]["step"])
    assert int(result["gan"].d_optimizer.iterations) == 4


class _Model:
    stop_training = False


def test_a_training_budget_stops_at_whichever_limit_comes_first_and_continues_over_fit_calls():
    steps_first = TrainingBudget(cpu_seconds=1000.0, max_steps=3)
    steps_first.set_model(_Model())
    steps_first.on_train_begin()
    for batch in range(3):
        assert not steps_first.model.stop_training
        steps_first.on_train_batch_end(batch)
    assert steps_first.model.stop_training and steps_first.steps == 3 and steps_first.exhausted()
    steps_first.max_steps = 5  # train on to a later milestone: the count continues
    steps_first.set_model(_Model())
    steps_first.on_train_begin()
    steps_first.on_train_batch_end(0)
    assert steps_first.steps == 4 and not steps_first.model.stop_training
    seconds_first = TrainingBudget(cpu_seconds=1e-9, max_steps=1000)
    seconds_first.set_model(_Model())
    seconds_first.on_train_begin()
    sum(i * i for i in range(100_000))
    seconds_first.on_train_batch_end(0)
    assert seconds_first.model.stop_training and seconds_first.steps == 1
    assert isinstance(CPUTimeBudget(5.0), TrainingBudget) and CPUTimeBudget(5.0).max_steps is None


def test_bad_budgets_name_the_arguments():
    with pytest.raises(ValueError) as error:
        TrainingBudget()
    assert "cpu_seconds" in str(error.value) and "max_steps" in str(error.value)
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="max_steps"):
            TrainingBudget(max_steps=bad)
    with pytest.raises(ValueError, match="max_steps"):
        CPUTimeBudget(None)
    for budget in ({}, {"cpu_seconds": 5.0, "steps": 10}):
        with pytest.raises(ValueError) as error:
            recipes.train_for_cpu_seconds("dcgan+ema", sprites(), **budget)
        assert "cpu_seconds" in str(error.value) and "steps" in str(error.value)
    with pytest.raises(ValueError, match="steps"):
        recipes.train_for_cpu_seconds("dcgan+ema", sprites(), steps=0)


def test_bad_recipe_and_budget_are_named():
    with pytest.raises(ValueError) as error:
        recipes.get_recipe("stylegan3")
    assert "recipe" in str(error.value) and "'dcgan-2015'" in str(error.value)
    with pytest.raises(ValueError, match="cpu_seconds"):
        CPUTimeBudget(0)
    with pytest.raises(ValueError, match="batch_size=128 is larger than the 64 images.*at most 64"):
        recipes.train_for_cpu_seconds("dcgan-2015", sprites(), 1.0, batch_size=128)
    with pytest.raises(ValueError, match=r"shape \(16, 16, 3\); expected \(N, H, W, C\)"):
        recipes.train_for_cpu_seconds("dcgan-2015", sprites()[0], 1.0)


def test_each_name_says_what_its_recipe_adds_and_the_earlier_names_still_work():
    """Issue 24 item 4: '+ema' was DiffAugment and the average, next to 'dcgan+ema', the average
    alone. Each name now lists what it adds to dcgan-2015; the earlier names give the same recipe."""
    for name, recipe in recipes.RECIPES.items():
        parts = set(name.split("+"))
        assert ("diffaugment" in parts or "shift" in parts) == recipe.diffaugment, name
        assert ("ema" in parts) == (recipe.ema_decay is not None), name
        assert ("sn-hinge" in parts) == (recipe.loss == "hinge"), name
    for old, new in recipes.RENAMED.items():
        assert old not in recipes.RECIPES and recipes.get_recipe(old) is recipes.RECIPES[new]
        assert recipes.current_name(old) == new  # run folders written before the rename
    for value in ("dcgan+ema", "stylegan", None):  # current, unknown, absent: unchanged, for the caller to check
        assert recipes.current_name(value) == value
    with pytest.raises(ValueError, match="stylegan"):
        recipes.get_recipe("stylegan")


def test_the_batches_are_those_of_the_shuffled_images_pipeline():
    """train_for_cpu_seconds gathers batches by shuffled image number (issue 26): the same batches
    in the same order as shuffling the images themselves, for a strided view (an RGB view of RGBA
    images, as lesson 03 trains on), float64 images and an array used in place."""
    from ganlib.data.store import _aligned

    rgba = np.random.default_rng(1).uniform(-1, 1, (50, 4, 4, 4)).astype(np.float32)
    aligned = _aligned(rgba, np.float32)  # used in place, not copied
    for images in (rgba[..., :3], rgba[..., :3].astype(np.float64), aligned):
        expected = (tf.data.Dataset.from_tensor_slices(np.asarray(images, np.float32))
                    .shuffle(50, seed=3, reshuffle_each_iteration=True).batch(16, drop_remainder=True).repeat())
        batches = recipes._shuffled_batches(images, 16, seed=3)
        assert batches.element_spec == expected.element_spec
        for got, want in zip(batches.take(10), expected.take(10)):  # 3 passes and a batch: reshuffled
            np.testing.assert_array_equal(got.numpy(), want.numpy())


def resident_mib():
    """This process's resident memory (VmRSS) in MiB; skips the test where /proc has none."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    pytest.skip("reading resident memory needs /proc/self/status (Linux)")


def test_runs_one_after_another_keep_no_copy_of_the_images(tmp_path):
    """Issue 26: each run of lesson 03 kept about the image set's size of memory (fit_gan's feed
    of batches outlived the run, and with it the pipeline's shuffle buffer), and the first run
    left two more copies in TensorFlow's CPU allocator. A run now keeps a few MiB (its traced
    functions); half the image set is the limit, for the first run and for the next."""
    images = sprites(count=32768, size=16)  # 96 MiB
    half = images.nbytes / 2**20 / 2

    def run(data, name):
        recipes.train_for_cpu_seconds("dcgan-2015", data, 0.2, width=4, latent_dim=8, batch_size=16,
                                      out_dir=tmp_path / name)
        gc.collect()
        return resident_mib()

    start = run(images[:64], "warm-up")  # TensorFlow's, Keras' and the run folder's first-use memory
    first = run(images, "first")
    second = run(images, "second")
    assert first - start < half, f"the first run kept {first - start:.0f} MiB"
    assert second - first < half, f"the second run kept {second - first:.0f} MiB"
