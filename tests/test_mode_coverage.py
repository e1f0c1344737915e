"""Known answers of ganlib.metrics.mode_coverage by the VEEGAN / PacGAN protocol: modes
captured (nearest centre of at least one high-quality sample), the high-quality fraction
(within 3 std of the nearest centre) and the reverse KL of the mode histogram."""
import math

import numpy as np
import pytest

from ganlib import toy
from ganlib.metrics import mode_coverage


@pytest.mark.parametrize("target", [toy.ring_of_gaussians(8, 1.0, 0.01), toy.grid_of_gaussians()],
                         ids=["ring", "grid"])
def test_perfect_samples_capture_every_mode_with_zero_kl(target):
    samples = np.repeat(target.centers, 100, axis=0)  # 2,500 for the grid, 800 for the ring
    result = mode_coverage(samples, target.centers, target.std)
    assert result["modes"] == result["n_modes"] == target.n_modes
    assert result["hq_fraction"] == 1.0 == result["high_quality_fraction"]
    assert result["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    assert result["samples_per_mode"] == [100] * target.n_modes


def test_true_samples_of_the_benchmark_targets():
    for target in (toy.ring_of_gaussians(8, 1.0, 0.01), toy.grid_of_gaussians()):
        result = target.coverage(target.sample(2500, seed=0))
        assert result["modes"] == target.n_modes
        assert result["hq_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.006)
        assert 0.0 <= result["reverse_kl"] < 0.02  # multinomial noise of 2,500 draws


@pytest.mark.parametrize("n_modes", [8, 25])
def test_all_samples_in_one_mode_give_one_mode_and_kl_log_n(n_modes):
    centers = toy.grid_of_gaussians().centers if n_modes == 25 else toy.ring_of_gaussians(8, 1.0).centers
    samples = centers[3] + np.random.default_rng(0).normal(0.0, 0.01, (2500, 2))
    result = mode_coverage(samples, centers, std=0.05)
    assert result["modes"] == 1 and result["hq_fraction"] == 1.0
    assert result["reverse_kl"] == pytest.approx(math.log(n_modes))


def test_two_modes_of_four_half_and_half_give_log_two():
    centers = toy.grid_of_gaussians(n_per_side=2).centers
    samples = np.repeat(centers[:2], [300, 300], axis=0)
    result = mode_coverage(samples, centers, std=0.05)
    assert result["modes"] == 2 and result["reverse_kl"] == pytest.approx(math.log(2))


def test_one_stray_high_quality_sample_captures_a_mode_but_barely_moves_kl():
    # The protocol counts a mode with a single HQ sample; the reverse KL shows the imbalance.
    centers = toy.grid_of_gaussians(n_per_side=2).centers
    samples = np.vstack([np.repeat(centers[:3], 833, axis=0), centers[3:4]])
    result = mode_coverage(samples, centers, std=0.05)
    assert result["modes"] == 4 and result["modes_covered"] == 3  # the stricter older count
    share = np.array([833, 833, 833, 1]) / 2500
    assert result["reverse_kl"] == pytest.approx(float(np.sum(share * np.log(share * 4))))
    assert result["reverse_kl"] > 0.25


def test_samples_off_every_mode_are_low_quality_and_kl_is_nan():
    centers = toy.ring_of_gaussians(8, 1.0, 0.01).centers
    result = mode_coverage(np.zeros((2500, 2)), centers, std=0.01)  # the ring's centre
    assert result["modes"] == 0 and result["hq_fraction"] == 0.0
    assert math.isnan(result["reverse_kl"])


def test_low_quality_samples_do_not_capture_their_nearest_mode():
    centers = toy.ring_of_gaussians(8, 1.0, 0.01).centers
    near = centers[0] + [0.029, 0.0]  # 2.9 std: high quality
    far = centers[1] * 1.031  # 3.1 std out along the radius: nearest centre 1, not HQ
    result = mode_coverage(np.vstack([near, far]), centers, std=0.01)
    assert result["modes"] == 1 and result["hq_fraction"] == 0.5
    assert result["samples_per_mode"][:2] == [1, 0]


@pytest.mark.parametrize(
    "samples, centers, std, message",
    [
        (np.zeros((5, 3)), np.zeros((4, 2)), 0.1, r"samples_2d has shape \(5, 3\)"),
        (np.zeros((5, 2)), np.zeros((4, 3)), 0.1, r"centers has shape \(4, 3\)"),
        (np.zeros((5, 2)), np.zeros((4, 2)), -0.1, r"std=-0.1 must be a positive number"),
    ],
)
def test_bad_input_names_the_argument(samples, centers, std, message):
    with pytest.raises(ValueError, match=message):
        mode_coverage(samples, centers, std)
