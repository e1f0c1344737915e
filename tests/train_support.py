"""What the resume tests share: a callback that stops a training run at a step, as a kill would.

Import it into a test module (``from train_support import KillAt``).
"""
import keras


class KillAt(keras.callbacks.Callback):
    """Stops the run at its ``step``-th training batch, as kill -9 or Ctrl-C would, after the
    checkpoints of that step (raises KeyboardInterrupt)."""

    def __init__(self, step):
        super().__init__()
        self.step, self.seen = step, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.step:
            raise KeyboardInterrupt


def noise_pngs(folder, count=16, size=16, seed=0):
    """``count`` RGB PNGs of uniform noise, ``size`` x ``size``, named 00.png, 01.png, ... in
    ``folder`` (a pathlib.Path); returns the folder as a string."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{index:02d}.png")
    return str(folder)
