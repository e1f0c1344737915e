"""The shared argument checks of ganlib._checks: one rule each, used by every module."""
import numpy as np
import pytest

from ganlib import classic, inpaint, metrics, models, train
from ganlib._checks import IMAGE_RANGE_TOLERANCE, check_image_range, check_image_size, check_seed


def test_one_image_range_rule_for_every_module():
    # Just inside the tolerance passes everywhere; just outside fails everywhere.
    inside = np.full((4, 16, 16, 1), 1.0 + IMAGE_RANGE_TOLERANCE / 2, np.float32)
    outside = np.full((4, 16, 16, 1), 1.0 + 2 * IMAGE_RANGE_TOLERANCE, np.float32)
    accept = [
        lambda x: check_image_range("images", x),
        lambda x: metrics.gaussian_noise_baseline(x, 2),
        lambda x: train.check_training_data(x, (16, 16, 1)),
        lambda x: inpaint._check_images_and_masks(x, inpaint.center_mask(16)),
    ]
    for function in accept:
        function(inside)
        with pytest.raises(ValueError, match=r"\[-1, 1\]"):
            function(outside)


def test_image_range_names_the_argument_and_flags_nan():
    with pytest.raises(ValueError) as error:
        check_image_range("real_images", np.full((2, 2), np.nan))
    assert "real_images" in str(error.value) and "NaN" in str(error.value)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3", None])
def test_seed_rule(seed):
    with pytest.raises(ValueError) as error:
        check_seed("seed", seed)
    assert "seed=" in str(error.value) and "integer >= 0" in str(error.value)
    assert check_seed("seed", np.int64(3)) == 3


def test_image_size_rules_per_kind_of_use():
    assert check_image_size("image_size", (24, 32), pair=True) == (24, 32)
    assert check_image_size("image_size", 20, pair=True) == (20, 20)
    assert check_image_size("image_size", 28, multiple_of=4, minimum=8) == 28
    assert check_image_size("image_size", 32, allowed=models.IMAGE_SIZES) == 32
    for value, rule, words in [
        (24, dict(allowed=models.IMAGE_SIZES), ["image_size=24", "16, 32, 64, 128"]),
        (30, dict(multiple_of=4, minimum=8), ["image_size=30", "multiple of 4", "at least 8"]),
        ((0, 4), dict(pair=True), ["image_size=(0, 4)", "pair (height, width)"]),
        (True, {}, ["image_size=True", "positive integer"]),
    ]:
        with pytest.raises(ValueError) as error:
            check_image_size("image_size", value, **rule)
        for word in words:
            assert word in str(error.value)
    # the modules use those rules
    with pytest.raises(ValueError, match="16, 32, 64, 128"):
        models.dcgan_generator(image_size=24)
    with pytest.raises(ValueError, match="multiple of 4"):
        classic.classic_generator(image_size=30)
