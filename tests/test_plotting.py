"""Light tests of ganlib.plotting: pixel values, grid layout, figures, GIFs, bad input."""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from ganlib import plotting  # noqa: E402


def test_display_uint8_maps_minus_one_one_and_composites_rgba_on_white():
    grey = np.array([-1.0, 0.0, 1.0, 3.0], np.float32).reshape(1, 2, 2, 1)
    assert plotting.display_uint8(grey).tolist() == [[[0, 128], [255, 255]]]
    assert not hasattr(plotting, "to_uint8")  # one to_uint8 in ganlib: ganlib.data.to_uint8
    # RGBA: a black pixel fully transparent shows white, fully opaque shows black,
    # half transparent (alpha 0.5 -> value 0) shows mid grey.
    rgba = np.array([[[[-1, -1, -1, -1], [-1, -1, -1, 1], [-1, -1, -1, 0]]]], np.float32)
    assert plotting.display_uint8(rgba)[0, 0].tolist() == [[255, 255, 255], [0, 0, 0], [128, 128, 128]]


def test_image_grid_layout():
    images = np.stack([np.full((4, 5, 3), value, np.float32) for value in (-1.0, 1.0, -1.0)])
    grid = plotting.image_grid(images, ncols=2, padding=1)
    assert grid.shape == (2 * (4 + 1) + 1, 2 * (5 + 1) + 1, 3)
    assert grid[1, 1].tolist() == [0, 0, 0]  # first tile black
    assert grid[1, 7].tolist() == [255, 255, 255]  # second tile white
    assert grid[6, 1].tolist() == [0, 0, 0]  # third tile starts a new row
    assert grid[0, 0].tolist() == [255, 255, 255]  # white padding
    assert plotting.image_grid(np.zeros((9, 4, 4, 1))).shape == (3 * 6 + 2, 3 * 6 + 2)  # 3x3 grey


def test_save_image_grid_and_gif(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for epoch in range(3):
        paths.append(plotting.save_image_grid(rng.uniform(-1, 1, (4, 8, 8, 3)), tmp_path / f"e{epoch}.png"))
    with Image.open(paths[0]) as picture:
        assert picture.size == (2 * 10 + 2, 2 * 10 + 2)
    gif = plotting.save_gif(paths, tmp_path / "run.gif", duration=0.2)
    with Image.open(gif) as animation:
        assert animation.n_frames == 3
        assert animation.info["duration"] == 200
    frames = [np.full((700, 700, 3), value, np.uint8) for value in range(100)]
    with Image.open(plotting.save_gif(frames, tmp_path / "big.gif", max_frames=10, max_side=100)) as small:
        assert small.n_frames == 10 and max(small.size) == 100
    # Noise compresses badly: the GIF is cut (fewer and smaller frames) to stay under max_bytes.
    noise = [rng.integers(0, 256, (300, 300, 3), dtype=np.uint8) for _ in range(30)]
    path = plotting.save_gif(noise, tmp_path / "noise.gif", max_bytes=400_000)
    assert os.path.getsize(path) <= 400_000
    with Image.open(path) as cut:
        assert cut.n_frames == 12 and max(cut.size) < 300
    assert not list(tmp_path.glob("*.partial"))


def test_plot_history_gan_and_wgan():
    history = {"step": [1, 2, 3], "d_loss": [1.4, 1.2, 1.1], "g_loss": [0.7, 0.9, 1.0],
               "d_real": [0.5, 0.6, 0.7], "d_fake": [0.5, 0.4, 0.3]}
    figure = plotting.plot_history(history, smooth=2)
    left, right = figure.axes
    assert left.lines[0].get_xdata().tolist() == [1, 2, 3]
    assert right.lines[0].get_ydata().tolist() == pytest.approx([0.5, 0.55, 0.65])  # smoothed D(x)
    plt.close(figure)
    wgan = {"d_loss": [-1.0, -2.0], "g_loss": [0.5, 0.4], "wasserstein": [1.0, 2.0], "gp": [0.1, 0.0]}
    figure = plotting.plot_history(wgan)
    assert [line.get_label() for line in figure.axes[1].lines] == ["wasserstein", "gp"]
    plt.close(figure)
    adaptive = {**history, "augment_p": [0.0, 0.1, 0.2]}  # adaptive augmentation's p, unsmoothed
    figure = plotting.plot_history(adaptive, smooth=2)
    p_line = next(line for line in figure.axes[1].lines if line.get_label() == "augmentation p")
    assert p_line.get_ydata().tolist() == pytest.approx([0.0, 0.1, 0.2])
    plt.close(figure)


def test_nearest_neighbours_finds_copies():
    rng = np.random.default_rng(1)
    training = rng.uniform(-1, 1, (20, 8, 8, 1)).astype(np.float32)
    samples = np.stack([training[7], training[3] + 0.01, rng.uniform(-1, 1, (8, 8, 1))]).astype(np.float32)
    indices, distances = plotting.nearest_neighbours(samples, training, batch_size=2)
    assert indices[:2].tolist() == [7, 3]
    assert distances[0] == pytest.approx(0.0, abs=1e-3)
    assert distances[1] == pytest.approx(0.01, abs=1e-3)
    assert distances[2] > 0.5  # uniform noise is far from every training image
    figure = plotting.plot_nearest_neighbours(samples, training, n=3)
    assert len(figure.axes) == 6
    plt.close(figure)


def test_bad_input():
    with pytest.raises(ValueError, match=r"images has shape \(4, 8, 8, 2\).*C = 1, 3 or 4"):
        plotting.image_grid(np.zeros((4, 8, 8, 2)))
    with pytest.raises(ValueError, match=r"ncols=0 must be a positive integer"):
        plotting.image_grid(np.zeros((4, 8, 8, 3)), ncols=0)
    with pytest.raises(ValueError, match=r"padding=-1"):
        plotting.image_grid(np.zeros((4, 8, 8, 3)), padding=-1)
    with pytest.raises(ValueError, match=r"samples have images of shape \(8, 8, 1\) but training_images have \(8, 8, 3\)"):
        plotting.nearest_neighbours(np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match=r"history must be a dict"):
        plotting.plot_history({"loss": [1.0]})
    with pytest.raises(ValueError, match=r"smooth=0"):
        plotting.plot_history({"d_loss": [1.0], "g_loss": [1.0]}, smooth=0)
    with pytest.raises(ValueError, match=r"frames is empty"):
        plotting.save_gif([], "never.gif")
    with pytest.raises(ValueError, match=r"max_side=0 must be a positive integer"):
        plotting.save_gif([np.zeros((4, 4, 3), np.uint8)], "never.gif", max_side=0)


# ---------------------------------------------- kills during a write (issue 17, item 6)
def test_save_image_grid_is_atomic_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "epoch_0001.png"
    images = np.zeros((4, 8, 8, 3), np.float32)
    plotting.save_image_grid(images, path)
    before = path.read_bytes()

    def killed(self, fp, *args, **kwargs):  # the process dies part-way through the PNG
        with open(fp, "wb") as handle:
            handle.write(b"\x89PNG")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        plotting.save_image_grid(np.ones((4, 8, 8, 3), np.float32), path)
    assert path.read_bytes() == before  # the old grid, whole
    assert os.listdir(tmp_path) == ["epoch_0001.png"]  # no temporary file left


def test_save_gif_skips_an_unreadable_frame_with_a_warning(tmp_path):
    frames = []
    for index, value in enumerate((-1.0, 0.0, 1.0)):
        frames.append(plotting.save_image_grid(np.full((1, 8, 8, 3), value, np.float32),
                                               tmp_path / f"epoch_{index + 1:04d}.png"))
    (tmp_path / "epoch_0004.png").write_bytes(b"")  # a kill while it was written
    frames.append(str(tmp_path / "epoch_0004.png"))
    with pytest.warns(UserWarning, match="epoch_0004.png"):
        plotting.save_gif(frames, tmp_path / "run.gif", max_bytes=None)
    with Image.open(tmp_path / "run.gif") as gif:
        assert gif.n_frames == 3
    assert sorted(name for name in os.listdir(tmp_path) if name.startswith(".")) == []
    (tmp_path / "bad.png").write_bytes(b"")
    with pytest.raises(ValueError, match="none of the 1 frames"), pytest.warns(UserWarning, match="bad.png"):
        plotting.save_gif([str(tmp_path / "bad.png")], tmp_path / "none.gif")


def _documented(x):
    """A docstring
    on two lines."""
    y = x + 1  # first line of the body
    if y > 2:
        return y
    return -y


def test_source_text_drops_the_docstring_or_shows_the_lines_asked_for():
    from ganlib import plotting

    text = plotting.source_text(_documented)
    assert text.startswith("def _documented(x):\n    y = x + 1") and '"""' not in text
    assert text.rstrip().endswith("return -y")
    core = plotting.source_text(_documented, "if y", "return y")
    assert core == f"if y > 2:\n    return y\n[lines 5-6 of the 7 of {__name__}._documented]"
    assert plotting.source_text(plotting.show_images).startswith("def show_images(")  # a one-line docstring
    from ganlib.train import GAN

    assert '"""' not in plotting.source_text(GAN.train_step)
    for start, end, words in (("while", "return", "no line of"), ("if y", "raise", "after 'if y'"),
                              ("if y", None, "give both")):
        with pytest.raises(ValueError, match=words):
            plotting.source_text(_documented, start, end)
