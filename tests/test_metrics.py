"""Tests of ganlib.metrics.wasserstein_1d and ganlib.metrics.mode_coverage (known values)."""
import numpy as np
import pytest

from ganlib.metrics import mode_coverage, wasserstein_1d


# ----------------------------------------------------------------------------- wasserstein_1d
def test_w1_of_identical_samples_is_zero():
    samples = np.random.default_rng(0).normal(size=500)
    assert wasserstein_1d(samples, samples) == 0.0
    # order and shape do not matter: (n,) and (n, 1) are the same sample
    assert wasserstein_1d(samples[::-1], samples.reshape(-1, 1)) == 0.0


def test_w1_of_point_masses_is_their_distance():
    assert wasserstein_1d([0.0], [3.5]) == pytest.approx(3.5)
    assert wasserstein_1d([0.0, 1.0], [1.0, 2.0]) == pytest.approx(1.0)


def test_w1_small_example_by_hand():
    # Sorted pairs (0, 0), (1, 3), (2, 5): mean |difference| = (0 + 2 + 3) / 3.
    assert wasserstein_1d([2.0, 0.0, 1.0], [5.0, 3.0, 0.0]) == pytest.approx(5.0 / 3.0)


def test_w1_of_shifted_gaussians_is_the_shift():
    rng = np.random.default_rng(1)
    base = rng.normal(4.0, 0.5, size=20_000)
    # The same sample shifted: exactly the shift.
    assert wasserstein_1d(base, base + 0.3) == pytest.approx(0.3, abs=1e-9)
    # Two independent samples of N(4, 0.5) and N(4.3, 0.5): the shift, up to sampling noise.
    other = rng.normal(4.3, 0.5, size=20_000)
    assert wasserstein_1d(base, other) == pytest.approx(0.3, abs=0.02)


def test_w1_of_two_samples_of_one_gaussian_is_small():
    """The floor of the W1 printed in lesson 01: 10k vs 10k samples of N(4, 0.5)."""
    rng = np.random.default_rng(2)
    values = [wasserstein_1d(rng.normal(4, 0.5, 10_000), rng.normal(4, 0.5, 10_000)) for _ in range(5)]
    assert max(values) < 0.02 and min(values) > 0.0


def test_w1_is_symmetric_and_accepts_different_sizes():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=300), rng.normal(1.0, 2.0, size=700)
    assert wasserstein_1d(a, b) == pytest.approx(wasserstein_1d(b, a))


@pytest.mark.parametrize("bad, message", [([], "is empty"), ([0.0, np.nan], "NaN or inf"),
                                           ([np.inf], "NaN or inf")])
def test_w1_rejects_bad_samples(bad, message):
    with pytest.raises(ValueError, match=message):
        wasserstein_1d(bad, [0.0])
    with pytest.raises(ValueError, match=f"b .*{message}|b {message}"):
        wasserstein_1d([0.0], bad)


# ----------------------------------------------------------------------------- mode_coverage
SQUARE = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])


def test_samples_on_every_centre_cover_every_mode():
    samples = np.repeat(SQUARE, 25, axis=0)
    result = mode_coverage(samples, SQUARE, std=0.05)
    assert result["modes_covered"] == 4 and result["n_modes"] == 4
    assert result["high_quality_fraction"] == 1.0
    assert result["samples_per_mode"] == [25, 25, 25, 25]


def test_collapsed_samples_cover_one_mode():
    samples = np.tile([[0.0, 1.0]], (100, 1)) + np.random.default_rng(0).normal(0, 0.01, (100, 2))
    result = mode_coverage(samples, SQUARE, std=0.05)
    assert result["modes_covered"] == 1
    assert result["samples_per_mode"] == [0, 100, 0, 0]
    assert result["high_quality_fraction"] == 1.0


def test_samples_between_modes_are_not_high_quality():
    # 30 samples at the origin (distance 1 from every centre, far beyond 3 std = 0.15),
    # 70 on the first centre.
    samples = np.vstack([np.zeros((30, 2)), np.tile(SQUARE[:1], (70, 1))])
    result = mode_coverage(samples, SQUARE, std=0.05)
    assert result["high_quality_fraction"] == pytest.approx(0.7)
    assert result["modes_covered"] == 1


def test_three_std_is_the_quality_radius():
    centre = SQUARE[:1]
    inside = centre + [[0.149, 0.0]]
    outside = centre + [[0.151, 0.0]]
    assert mode_coverage(inside, SQUARE, std=0.05)["high_quality_fraction"] == 1.0
    assert mode_coverage(outside, SQUARE, std=0.05)["high_quality_fraction"] == 0.0


def test_a_few_strays_do_not_count_as_a_covered_mode():
    # 4000 samples: a mode needs max(1, 1% of 4000 / 4) = 10 high-quality samples.
    samples = np.vstack([np.tile(SQUARE[:1], (3991, 1)), np.tile(SQUARE[1:2], (9, 1))])
    assert mode_coverage(samples, SQUARE, std=0.05)["modes_covered"] == 1
    samples = np.vstack([np.tile(SQUARE[:1], (3990, 1)), np.tile(SQUARE[1:2], (10, 1))])
    assert mode_coverage(samples, SQUARE, std=0.05)["modes_covered"] == 2


@pytest.mark.parametrize(
    "samples, centers, std, message",
    [
        (np.zeros((5, 3)), SQUARE, 0.1, r"samples_2d has shape \(5, 3\)"),
        (np.zeros((0, 2)), SQUARE, 0.1, r"samples_2d has shape \(0, 2\)"),
        (np.zeros((5, 2)), np.zeros(2), 0.1, r"centers has shape \(2,\)"),
        (np.zeros((5, 2)), SQUARE, 0.0, r"std=0.0 must be a positive number"),
        (np.zeros((5, 2)), SQUARE, -1, r"std=-1 must be a positive number"),
        (np.zeros((5, 2)), SQUARE, "wide", r"std='wide' must be a positive number"),
        (np.zeros((5, 2)), SQUARE, float("nan"), r"std=nan must be a positive number"),
    ],
)
def test_mode_coverage_rejects_bad_input(samples, centers, std, message):
    with pytest.raises(ValueError, match=message):
        mode_coverage(samples, centers, std)


def test_mirror_symmetry_of_symmetric_noise_and_half_mirrored_images():
    from ganlib.metrics import mirror_symmetry

    rng = np.random.default_rng(0)
    half = rng.uniform(-1, 1, (6, 16, 8, 3)).astype(np.float32)
    symmetric = np.concatenate([half, half[:, :, ::-1]], axis=2)
    assert mirror_symmetry(symmetric) == 1.0
    assert mirror_symmetry(rng.uniform(-1, 1, (6, 16, 16, 3)).astype(np.float32)) < 0.01
    broken = symmetric.copy()
    broken[:, :, :4] = -1.0  # the left quarter blanked: its 4 columns and their mirrors differ
    assert mirror_symmetry(broken) == pytest.approx(1.0 - 8 / 16, abs=0.02)
    with pytest.raises(ValueError, match="tolerance"):
        mirror_symmetry(symmetric, tolerance=0)


def test_checkerboard_ratio_separates_a_checkerboard_from_edges_and_noise():
    from ganlib.metrics import checkerboard_ratio

    rng = np.random.default_rng(0)
    rows, cols = np.indices((16, 16))
    board = np.repeat(((rows + cols) % 2 * 2 - 1).astype(np.float32)[None, :, :, None], 2, axis=0)  # alternates
    assert checkerboard_ratio(board) == pytest.approx(2.0)  # 16 a^2 / (4 a^2 + 4 a^2)
    assert checkerboard_ratio(rng.uniform(-1, 1, (200, 16, 16, 3))) == pytest.approx(1.0, abs=0.02)
    edges = np.where(cols < 8, -1.0, 1.0)[None, :, :, None] * np.ones((4, 1, 1, 3))  # one vertical edge
    assert checkerboard_ratio(edges) == 0.0
    soft = np.clip(edges + 0.2 * board[:1], -1, 1)
    assert checkerboard_ratio(soft) > checkerboard_ratio(edges)
    assert checkerboard_ratio(np.zeros((2, 16, 16, 1))) == 0.0
    with pytest.raises(ValueError, match="16"):
        checkerboard_ratio(np.zeros((2, 4, 4, 1)))


def test_colour_speckle_sees_stray_coloured_pixels_not_flat_colour_or_edges():
    from ganlib.metrics import colour_speckle

    flat = np.zeros((3, 16, 16, 3))
    flat[..., 0] = 1.0  # pure red everywhere
    assert colour_speckle(flat) == pytest.approx(0.0)
    edge = flat.copy()
    edge[:, :, 8:] = [1.0, 1.0, 1.0]  # red | white: a clean edge
    assert colour_speckle(edge) == pytest.approx(0.0)
    assert colour_speckle(np.repeat(np.random.default_rng(0).uniform(-1, 1, (3, 16, 16, 1)), 3, axis=-1)) == 0.0
    speckled = edge.copy()
    rng = np.random.default_rng(1)
    rows, cols = rng.integers(0, 16, 40), rng.integers(0, 8, 40)
    speckled[:, rows, cols] = [-1.0, 1.0, -1.0]  # stray green pixels in the red half
    assert colour_speckle(speckled) > 0.02
