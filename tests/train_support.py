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
