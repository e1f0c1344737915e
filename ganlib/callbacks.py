"""Keras callbacks that make GAN training watchable and fault tolerant.

``ganlib.train.fit_gan`` wires them together; they can also be passed to ``gan.fit`` by
hand, sharing one ``TrainingState``::

    state = TrainingState(fixed_noise=np.random.default_rng(0).standard_normal((64, 100)))
    gan.fit(dataset, epochs=5, callbacks=[
        HistoryRecorder(state),                          # first: counts steps
        NaNGuard(state, checkpoint),                     # stop and roll back on NaN/inf
        checkpoint := Checkpoint("run/checkpoints", state, every_steps=500),
        SampleGrid("run/samples", state),                # PNG per epoch, GIF at the end
    ])

Everything a run needs to continue is in one checkpoint file (``ckpt-<step>.npz``): the
weights of both networks (batch-norm statistics included), the variables of both
optimizers (Adam's moments and step counts), the noise generator's state, the step and
epoch, the per-step loss history and the fixed noise of the sample grids. It is written
to a temporary file, flushed to disk and renamed, so a crash or a kill at any moment
leaves either the old checkpoint or the new one, never half of one. A checkpoint damaged
later (a full disk, a partial copy, a synced folder) is detected when it is read and the
newest intact one is used instead (``restore_newest_checkpoint``). File names and the run
folder's layout live in ``ganlib.runfolder``. ``TensorBoardLogger`` logs the same per-step
losses and the sample grids for TensorBoard.
"""
from __future__ import annotations

import glob
import json
import math
import os
import time

import keras
import numpy as np

from ._checks import check_positive
from .plotting import save_gif, save_image_grid
from .runfolder import (CHECKPOINT_FORMAT, DamagedCheckpointError, check_checkpoint, checkpoint_files,
                        checkpoint_name, describe_damaged, latest_checkpoint, report_damaged)

__all__ = [
    "TrainingState",
    "HistoryRecorder",
    "Checkpoint",
    "NaNGuard",
    "SampleGrid",
    "ProgressBar",
    "TensorBoardLogger",
    "TrainingBudget",
    "CPUTimeBudget",
    "save_checkpoint",
    "load_checkpoint",
    "restore_newest_checkpoint",
    "latest_checkpoint",
    "atomic_save_model",
]


class TrainingState:
    """What the callbacks of one run share: the step count, the history, the fixed noise.

    Attributes:
        step: training steps (``train_step`` calls) done so far, over all ``fit`` calls.
        epoch: epochs completed.
        history: dict of lists, one entry per step: ``step``, ``epoch`` and each metric
            the model reports (``d_loss``, ``g_loss``, ``d_real``, ``d_fake`` for a GAN),
            each the mean over that step alone (not Keras' running mean over the epoch).
        fixed_noise: the latent vectors of the sample grids, the same all run long.
        status: 'running', 'completed' or a sentence saying why training stopped.
        run_info: a JSON-able dict of what defines the run (the command line's settings and a
            fingerprint of its data), written into every checkpoint as ``meta["run"]`` so a
            resume can tell what changed since; None writes nothing.
    """

    def __init__(self, fixed_noise=None, run_info=None):
        self.run_info = run_info
        self.step = 0
        self.epoch = 0
        self.history: dict = {"step": [], "epoch": []}
        self.fixed_noise = None if fixed_noise is None else np.asarray(fixed_noise, np.float32)
        self.status = "running"

    def truncate(self, step):
        """Forget history after ``step`` (used when rolling back to a checkpoint)."""
        keep = sum(1 for value in self.history["step"] if value <= step)
        for key in self.history:
            del self.history[key][keep:]
        self.step = step


def _variable_groups(gan):
    """The variables a checkpoint holds, by group, in a fixed order.

    Optimizers create their variables lazily on the first update, so they are built here
    first; a fresh model and a trained one then have the same list of variables.
    """
    for optimizer_name, network in (("d_optimizer", gan.discriminator), ("g_optimizer", gan.generator)):
        optimizer = getattr(gan, optimizer_name, None)
        if optimizer is None:
            raise ValueError(f"gan has no {optimizer_name}; call gan.compile() before training.")
        if not optimizer.built:
            optimizer.build(network.trainable_variables)
    groups = {
        "generator": list(gan.generator.weights),
        "discriminator": list(gan.discriminator.weights),
        "d_optimizer": list(gan.d_optimizer.variables),
        "g_optimizer": list(gan.g_optimizer.variables),
        "seed_generator": [gan.seed_generator.state],
    }
    if getattr(gan, "ema_generator", None) is not None:  # the running average of G (ema_decay)
        groups["ema_generator"] = list(gan.ema_generator.weights)
    if callable(getattr(getattr(gan, "augment", None), "state_variables", None)):  # adaptive augmentation
        groups["augment"] = list(gan.augment.state_variables())
    return groups


def _fsync_directory(directory):
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened; rename is still atomic
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def save_checkpoint(gan, path, state: TrainingState):
    """Write everything needed to resume ``gan`` at ``state.step`` to ``path``, atomically.

    Returns ``path``. Raises ValueError (and writes nothing) when a weight is NaN or inf:
    a checkpoint must always be a state worth going back to.
    """
    arrays = {}
    for group, variables in _variable_groups(gan).items():
        for index, variable in enumerate(variables):
            value = np.asarray(keras.ops.convert_to_numpy(variable.value))
            if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
                raise ValueError(
                    f"not saving a checkpoint at step {state.step}: {group} variable "
                    f"{variable.path!r} contains NaN or inf."
                )
            arrays[f"{group}/{index:04d}"] = value
    if state.fixed_noise is not None:
        arrays["fixed_noise"] = state.fixed_noise
    meta = {
        "format": CHECKPOINT_FORMAT,
        "step": int(state.step),
        "epoch": int(state.epoch),
        "history": state.history,
        "saved_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "generator": gan.generator.name,
        "discriminator": gan.discriminator.name,
    }
    if getattr(state, "run_info", None) is not None:
        meta["run"] = state.run_info
    arrays["meta"] = np.array(json.dumps(meta))
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.partial")
    try:
        with open(temporary, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)  # atomic: readers see the old file or the complete new one
    except BaseException:  # disk full, Ctrl-C: no partial file left to fill the disk
        _remove_quietly(temporary)
        raise
    _fsync_directory(directory)
    return path


def load_checkpoint(gan, path, state: TrainingState | None = None):
    """Restore ``gan`` (weights, optimizers, noise generator) from ``path``.

    The file is read in full and checked first (``ganlib.runfolder.check_checkpoint``): a
    damaged one (truncated, changed bytes, not ganlib's) raises ``DamagedCheckpointError``.
    Every array is then checked against the model's variable before anything is assigned,
    so a checkpoint of a different model raises ValueError and leaves ``gan`` untouched.
    When ``state`` is given, its step, epoch, history and fixed noise are restored too.
    Returns the checkpoint's metadata dict (step, epoch, history, ...).
    """
    if not os.path.exists(path):
        raise ValueError(f"checkpoint path={str(path)!r} does not exist.")
    meta = check_checkpoint(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            stored = {key: archive[key] for key in archive.files if key != "meta"}
    except Exception as error:  # changed on disk since it was checked
        raise DamagedCheckpointError(f"checkpoint {path} is damaged ({type(error).__name__}: {error})",
                                     path=str(path), reason=str(error)) from None
    values = []
    for group, variables in _variable_groups(gan).items():
        keys = sorted(key for key in stored if key.startswith(group + "/"))
        if len(keys) != len(variables):
            raise ValueError(
                f"checkpoint {path} holds {len(keys)} {group} variables but the model has "
                f"{len(variables)}; it was saved from a different model."
            )
        for key, variable in zip(keys, variables):
            value = stored[key]
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"checkpoint {path}: {group} variable {variable.path!r} has shape "
                    f"{tuple(variable.shape)} in the model but {tuple(value.shape)} in the "
                    "file; it was saved from a different model."
                )
            values.append((variable, value))
    fixed_noise = stored.get("fixed_noise")
    for variable, value in values:
        variable.assign(value.astype(variable.dtype) if hasattr(value, "astype") else value)
    if state is not None:
        state.step = int(meta["step"])
        state.epoch = int(meta["epoch"])
        state.history = {key: list(value) for key, value in meta["history"].items()}
        if fixed_noise is not None:
            state.fixed_noise = fixed_noise.astype(np.float32)
    return meta


def restore_newest_checkpoint(gan, directory, state: TrainingState | None = None, *,
                              set_aside_damaged: bool = False):
    """Load the newest intact checkpoint of ``directory`` into ``gan`` (and ``state``).

    A damaged checkpoint (truncated, changed bytes, a stray ``ckpt-*.npz`` that is not
    ganlib's) is skipped with one ``DamagedCheckpointWarning`` line naming the file and why.
    With ``set_aside_damaged`` (a run about to train on in this folder) every damaged one is
    renamed to ``<name>.damaged``: kept, and neither overwritten nor pruned later. Nothing is
    ever deleted.

    Returns ``(path, meta)``, or ``(None, None)`` when ``directory`` holds no checkpoint.
    Raises ``DamagedCheckpointError`` (a ValueError) naming every file and why when all are
    damaged (they are then left as they are), and ValueError for a different model's one.
    """
    files = checkpoint_files(directory)
    damaged = []
    for index in range(len(files) - 1, -1, -1):
        path = files[index][1]
        try:
            meta = load_checkpoint(gan, path, state)
        except DamagedCheckpointError as error:
            damaged.append(error)
            continue
        if set_aside_damaged:  # older damaged files too: pruning must not delete them
            for _, older in files[:index]:
                try:
                    check_checkpoint(older)
                except DamagedCheckpointError as error:
                    damaged.append(error)
        for error in damaged:
            report_damaged(error, used=path, set_aside_file=set_aside_damaged)
        return path, meta
    if damaged:
        raise DamagedCheckpointError(f"no intact checkpoint in {directory}: {describe_damaged(damaged)}",
                                     path=str(directory), reason=describe_damaged(damaged))
    return None, None


def atomic_save_model(model, path):
    """``model.save(path)`` through a temporary ``.keras`` file renamed at the end."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f".{os.getpid()}-partial-{os.path.basename(path)}")
    try:
        model.save(temporary)
        os.replace(temporary, path)
    except BaseException:  # disk full, Ctrl-C: no hidden partial file left behind
        _remove_quietly(temporary)
        raise
    return path


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _finite_logs(logs):
    """The names of the non-finite values in ``logs`` (sorted, comma-separated), or None."""
    bad = []
    for name, value in (logs or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(number):
            bad.append(name)
    return ", ".join(sorted(bad)) if bad else None


def metric_totals(model):
    """``{name: (total, count)}`` of the model's running-mean metrics.

    Keras reports running means over the epoch; the difference of two such totals gives
    the exact mean over the steps in between (used for per-step histories and TensorBoard).
    """
    totals = {}
    for metric in model.metrics:
        total, count = getattr(metric, "total", None), getattr(metric, "count", None)
        if total is not None and count is not None:
            totals[metric.name] = (float(total.numpy()), float(count.numpy()))
    return totals


class HistoryRecorder(keras.callbacks.Callback):
    """Counts steps and records each metric's value *per step* into ``state.history``.

    Keras reports running means over the epoch; this callback reads each metric's running
    total and count and takes differences, so every entry is the mean over that step
    alone (over the steps of one execution when ``steps_per_execution`` > 1). A metric
    that was not updated in a step (WGAN's ``g_loss`` between generator updates) repeats
    its last value. Put it first in the callback list: the others read ``state.step``.
    """

    def __init__(self, state: TrainingState):
        super().__init__()
        self.state = state
        self._previous = {}
        self._epoch_start_step = 0
        self._epoch = 0

    def _totals(self):
        return metric_totals(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_start_step = self.state.step
        self._previous = {name: (0.0, 0.0) for name in self._totals()}

    def on_train_batch_end(self, batch, logs=None):
        history = self.state.history
        self.state.step = self._epoch_start_step + batch + 1
        history["step"].append(self.state.step)
        history["epoch"].append(self._epoch + 1)
        for name, (total, count) in self._totals().items():
            previous_total, previous_count = self._previous.get(name, (0.0, 0.0))
            values = history.setdefault(name, [])
            if count > previous_count:
                values.append((total - previous_total) / (count - previous_count))
            else:
                values.append(values[-1] if values else float("nan"))
            self._previous[name] = (total, count)
        # A metric that appeared late (never in practice) is padded to keep lists aligned.
        for name, values in history.items():
            if len(values) < len(history["step"]):
                values[:0] = [float("nan")] * (len(history["step"]) - len(values))

    def on_epoch_end(self, epoch, logs=None):
        self.state.epoch = epoch + 1


class Checkpoint(keras.callbacks.Callback):
    """Saves a checkpoint every ``every_steps`` steps and when training ends.

    Files are ``<directory>/ckpt-<step>.npz``; the newest ``keep`` are kept. Nothing is
    saved while the logs or the weights hold NaN or inf. When no checkpoint exists at the
    start, the initial state is saved, so ``NaNGuard`` always has one to return to.

    Args:
        directory: where the checkpoint files go.
        state: the run's ``TrainingState``.
        every_steps: save every this many training steps (None: only at the end).
        keep: how many of the newest checkpoints to keep (>= 1).
        verbose: print a line for each checkpoint saved.
    """

    def __init__(self, directory, state: TrainingState, every_steps: int | None = 500, keep: int = 2,
                 verbose: int = 0):
        super().__init__()
        if every_steps is not None and (isinstance(every_steps, bool) or not isinstance(every_steps, int)
                                        or every_steps < 1):
            raise ValueError(f"every_steps={every_steps!r} must be a positive integer or None.")
        self.directory = str(directory)
        self.state = state
        self.every_steps = every_steps
        self.keep = check_positive("keep", keep, integer=True)
        self.verbose = verbose
        self.last_saved_step = None
        self._last_saved = None
        self.skipped_non_finite = False
        self.restored_path = None

    def path_for(self, step):
        """The path of the checkpoint of step ``step``."""
        return os.path.join(self.directory, checkpoint_name(step))

    def latest(self):
        """The path of the newest checkpoint in the folder, or None."""
        return latest_checkpoint(self.directory)

    def restore(self, gan):
        """Load the newest intact checkpoint into ``gan`` and the state; returns its metadata
        or None. Damaged ones are reported and set aside (``restore_newest_checkpoint``)."""
        path, meta = restore_newest_checkpoint(gan, self.directory, self.state, set_aside_damaged=True)
        self.restored_path = path
        if path is None:
            return None
        self.last_saved_step = self.state.step
        self._last_saved = (self.state.step, self.state.epoch)
        return meta

    def save(self):
        """Save now (unless the state was already saved at this step); returns the path."""
        if (self._last_saved == (self.state.step, self.state.epoch)
                and os.path.exists(self.path_for(self.state.step))):
            return self.path_for(self.state.step)
        try:
            path = save_checkpoint(self.model, self.path_for(self.state.step), self.state)
        except ValueError as error:  # non-finite weights: keep the last good checkpoint
            self.skipped_non_finite = True
            print(f"Checkpoint skipped: {error}")
            return None
        self.last_saved_step = self.state.step
        self._last_saved = (self.state.step, self.state.epoch)
        if self.verbose:
            print(f"Checkpoint saved: {path}")
        for _, old in checkpoint_files(self.directory)[:-self.keep]:
            os.remove(old)
        for leftover in glob.glob(os.path.join(self.directory, ".ckpt-*.partial")):
            if not leftover.endswith(f".{os.getpid()}.partial"):
                os.remove(leftover)  # a temporary file of a killed run
        return path

    def on_train_begin(self, logs=None):
        if self.latest() is None:
            self.save()

    def on_train_batch_end(self, batch, logs=None):
        if self.every_steps is None or _finite_logs(logs) is not None:
            return
        last = self.last_saved_step or 0
        if self.state.step // self.every_steps > last // self.every_steps:
            self.save()

    def on_train_end(self, logs=None):
        if self.state.status == "running":  # not after NaNGuard rolled back
            self.save()


class NaNGuard(keras.callbacks.Callback):
    """Stops training when a loss or metric becomes NaN or inf and rolls back.

    The model is restored from the newest checkpoint (weights, optimizers, history), the
    run's ``state.status`` says what happened, and a message is printed. Runs that blow
    up late are the common complaint about GANs; this keeps their last good state.
    """

    def __init__(self, state: TrainingState, checkpoint: Checkpoint):
        super().__init__()
        self.state = state
        self.checkpoint = checkpoint
        self.triggered = False

    def on_train_batch_end(self, batch, logs=None):
        bad = _finite_logs(logs)
        if bad is None:
            return
        self.triggered = True
        self.model.stop_training = True
        failed_step = self.state.step
        if self.checkpoint.restore(self.model) is None:
            self.state.status = f"stopped at step {failed_step}: {bad} became NaN or inf; no checkpoint to restore"
        else:
            path = self.checkpoint.restored_path
            self.state.status = (
                f"stopped at step {failed_step}: {bad} became NaN or inf; restored the last "
                f"good checkpoint (step {self.state.step}, {path})"
            )
        print(f"NaNGuard: training {self.state.status}.")


def spaced_epoch(epoch: int) -> bool:
    """The epochs of ``SampleGrid(every_epochs='spaced')``: every one of the first 8, then 4 per
    doubling (8, 10, 12, 14, 16, 20, 24, 28, 32, 40, ...): early epochs change the pictures
    most, and a run of E epochs writes about 8 + 4 log2(E / 8) grids (31 for 400 epochs)."""
    epoch = int(epoch)
    if epoch <= 8:
        return epoch >= 1
    spacing = 2 ** (epoch.bit_length() - 3)  # 2 for 8-15, 4 for 16-31, ...
    return epoch % spacing == 0


class SampleGrid(keras.callbacks.Callback):
    """Saves a grid of images generated from ``state.fixed_noise`` after every epoch.

    The same noise all run long, so grid N and grid N+1 differ only by what the generator
    learnt in between (tf/docs' DCGAN tutorial, PyTorch's DCGAN tutorial). Grids are
    ``<directory>/epoch_<n>.png``; with ``make_gif`` the grids are stitched into
    ``<directory>.gif`` at the end of training. Images are made in inference mode
    (``training=False``: batch norm uses its moving averages), as a saved generator would
    make them.

    Args:
        directory: where the PNGs go.
        state: the run's ``TrainingState`` (its ``fixed_noise`` is used).
        every_epochs: save a grid every this many epochs (and after the last).
        make_gif: write the GIF in ``on_train_end``.
        scale: enlarge each grid this many times (small images are easier to see).
    """

    def __init__(self, directory, state: TrainingState, every_epochs=1, make_gif: bool = True,
                 scale: int = 1):
        super().__init__()
        self.directory = str(directory)
        self.state = state
        if every_epochs != "spaced":
            every_epochs = check_positive("every_epochs", every_epochs, integer=True)
        self.every_epochs = every_epochs
        self.make_gif = make_gif
        self.scale = scale

    def images(self):
        """The sampling generator's images of the fixed noise batch, as a NumPy array in [-1, 1]."""
        if self.state.fixed_noise is None:
            raise ValueError("state.fixed_noise is None; give the run a fixed noise batch first.")
        # the GAN called on noise: its sampling generator (the averaged one when there is one;
        # a conditional GAN spreads the classes over the samples)
        return keras.ops.convert_to_numpy(self.model(self.state.fixed_noise, training=False))

    def path_for(self, epoch):
        """The path of the grid of epoch ``epoch`` (counted from 1)."""
        return os.path.join(self.directory, f"epoch_{int(epoch):04d}.png")

    def due(self, epoch) -> bool:
        """Whether epoch ``epoch`` (counted from 1) gets a grid."""
        if self.every_epochs == "spaced":
            return spaced_epoch(epoch)
        return epoch % self.every_epochs == 0

    def on_epoch_end(self, epoch, logs=None):
        if self.due(epoch + 1) or epoch + 1 == self.params.get("epochs"):
            save_image_grid(self.images(), self.path_for(epoch + 1), scale=self.scale)

    def save_last(self, epoch):
        """The grid of ``epoch`` (a run that stopped on a budget), unless it exists."""
        if not os.path.exists(self.path_for(epoch)):
            save_image_grid(self.images(), self.path_for(epoch), scale=self.scale)

    def grids(self):
        """The paths of the grids written so far, in epoch order."""
        return sorted(glob.glob(os.path.join(self.directory, "epoch_*.png")))

    def write_gif(self, path=None, duration: float = 0.3):
        """Stitch the grids into a GIF (``duration`` seconds a frame) at ``path``, by default
        the folder's name + '.gif'; returns its path, or None when there is no grid yet."""
        grids = self.grids()
        if not grids:
            return None
        return save_gif(grids, path or self.directory.rstrip("/\\") + ".gif", duration=duration)

    def on_train_end(self, logs=None):
        if self.make_gif:
            self.write_gif()


class ProgressBar(keras.callbacks.Callback):
    """One tqdm bar over all the run's steps (with ETA), showing the latest metrics."""

    def __init__(self, state: TrainingState, total_steps: int, every: int = 1):
        super().__init__()
        self.state = state
        self.total_steps = total_steps
        self.every = max(1, every)
        self.bar = None

    def on_train_begin(self, logs=None):
        from ._progress import progress_bar

        if self.bar is None:  # None also when GANLIB_PROGRESS=0 (ganlib._progress)
            self.bar = progress_bar(total=self.total_steps, initial=self.state.step, unit="step",
                                    mininterval=2.0, dynamic_ncols=True)

    def on_train_batch_end(self, batch, logs=None):
        if self.bar is None:
            return
        self.bar.update(self.state.step - self.bar.n)
        if self.state.step % self.every == 0 and logs:
            history = self.state.history
            shown = {name: f"{history[name][-1]:.3f}" for name in ("d_loss", "g_loss", "d_real", "d_fake",
                                                                     "wasserstein", "gp")
                     if name in history and history[name]}
            self.bar.set_postfix(shown, refresh=False)

    def close(self):
        """Close the bar (at the end of training, or when it stops early)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class BudgetProgressBar(ProgressBar):
    """The progress bar of a run with a time budget (``RunBudget``): it counts the budget's
    seconds (CPU seconds if it has them, else wall seconds), so its ETA is the budget's."""

    def __init__(self, state: TrainingState, budget: "RunBudget", every: int = 1):
        super().__init__(state, total_steps=0, every=every)
        self.budget = budget
        self.kind = "CPU s" if budget.cpu_seconds is not None else "s"

    def _spent(self):
        cpu, wall = self.budget.spent()
        return cpu if self.budget.cpu_seconds is not None else wall

    def on_train_begin(self, logs=None):
        from ._progress import progress_bar

        if self.bar is None:
            total = self.budget.cpu_seconds if self.budget.cpu_seconds is not None else self.budget.wall_seconds
            self.bar = progress_bar(total=round(total), initial=min(round(self._spent()), round(total)), unit=self.kind,
                            mininterval=2.0, dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}{postfix}]")

    def on_train_batch_end(self, batch, logs=None):
        if self.bar is None:
            return
        self.bar.update(max(0, min(round(self._spent()), self.bar.total) - self.bar.n))
        if self.state.step % self.every == 0 and logs:
            history = self.state.history
            shown = {"step": self.state.step}
            shown.update({name: f"{history[name][-1]:.3f}" for name in ("d_loss", "g_loss", "d_real", "d_fake")
                          if name in history and history[name]})
            self.bar.set_postfix(shown, refresh=False)


class TensorBoardLogger(keras.callbacks.Callback):
    """Logs each step's losses and each epoch's samples for TensorBoard.

    Scalars: every metric of the model (``d_loss``, ``g_loss``, ...), each the mean over
    that step alone (from the metrics' running totals, as ``HistoryRecorder`` does, not
    Keras' running mean over the epoch), at the run's global step (``initial_step`` + steps
    done). Images: one grid of samples from ``fixed_noise`` after each epoch, the same noise
    all run long so successive grids are comparable. View with ``tensorboard --logdir LOG_DIR``.

    The events are written with ``tf.summary.write`` and the metadata TensorBoard's scalar
    and image plugins expect, so logging works without the ``tensorboard`` package
    (TensorFlow 2.21 no longer installs it); only viewing needs it.

    Args:
        log_dir: the folder of the event files.
        fixed_noise: the latent vectors of the sample grids, shape (n, latent_dim).
        initial_step: the step the run starts from (a resumed run's checkpoint step).
        every_steps: log the scalars every this many steps.
    """

    def __init__(self, log_dir, fixed_noise, initial_step: int = 0, every_steps: int = 1):
        super().__init__()
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        def metadata(plugin, data_class):
            return summary_pb2.SummaryMetadata(
                plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin), data_class=data_class)

        self._tf = tf
        self._scalar_metadata = metadata("scalars", summary_pb2.DATA_CLASS_SCALAR)
        self._image_metadata = metadata("images", summary_pb2.DATA_CLASS_BLOB_SEQUENCE)
        self.writer = tf.summary.create_file_writer(str(log_dir))
        self.fixed_noise = np.asarray(fixed_noise, np.float32)
        self.step = int(initial_step)
        self.every_steps = check_positive("every_steps", every_steps, integer=True)
        self._previous = {}

    def on_epoch_begin(self, epoch, logs=None):
        self._previous = {name: (0.0, 0.0) for name in metric_totals(self.model)}  # Keras reset them

    def on_train_batch_end(self, batch, logs=None):
        tf = self._tf
        self.step += 1
        totals = metric_totals(self.model)
        if self.step % self.every_steps == 0:
            with self.writer.as_default(step=self.step):
                for name, (total, count) in totals.items():
                    previous_total, previous_count = self._previous.get(name, (0.0, 0.0))
                    if count > previous_count:
                        value = (total - previous_total) / (count - previous_count)
                        tf.summary.write(name, tf.constant(value, tf.float32), metadata=self._scalar_metadata)
        self._previous = totals

    def on_epoch_end(self, epoch, logs=None):
        from .plotting import image_grid

        tf = self._tf
        images = keras.ops.convert_to_numpy(self.model(self.fixed_noise, training=False))  # as SampleGrid
        grid = image_grid(images)
        if grid.ndim == 2:  # grey images
            grid = grid[..., None]
        height, width = grid.shape[:2]
        # the image plugin's format: [width, height, PNG bytes] as strings
        blob = tf.stack([tf.constant(str(width)), tf.constant(str(height)), tf.io.encode_png(grid)])
        with self.writer.as_default(step=self.step):
            tf.summary.write("samples", blob, metadata=self._image_metadata)
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.writer.flush()


class RunBudget(keras.callbacks.Callback):
    """Stop a run once its training has used ``cpu_seconds`` of CPU time or ``wall_seconds``
    of wall-clock time *in all*, over every session of the run (a resumed run continues the
    count). Each step's running totals go into ``state.history`` as ``cpu_seconds`` and
    ``wall_seconds`` (so they are checkpointed with it); ``time.process_time`` counts every
    thread of the process, so on 2 busy cores CPU time runs about twice as fast as the
    clock. Tracing and compiling count. Put it *before* ``HistoryRecorder``, which keeps the
    history's lists aligned by the steps it has recorded."""

    def __init__(self, state: TrainingState, cpu_seconds=None, wall_seconds=None):
        super().__init__()
        if cpu_seconds is None and wall_seconds is None:
            raise ValueError("RunBudget needs cpu_seconds or wall_seconds (or both).")
        self.state = state
        self.cpu_seconds = None if cpu_seconds is None else check_positive("cpu_seconds", cpu_seconds)
        self.wall_seconds = None if wall_seconds is None else check_positive("wall_seconds", wall_seconds)
        self._start = None

    def spent(self):
        """(CPU seconds, wall seconds) of training so far, this session included."""
        history = self.state.history
        cpu = [v for v in history.get("cpu_seconds", []) if v == v] or [0.0]  # NaN: unknown
        wall = [v for v in history.get("wall_seconds", []) if v == v] or [0.0]
        return cpu[-1], wall[-1]

    def exhausted(self) -> bool:
        cpu, wall = self.spent()
        return ((self.cpu_seconds is not None and cpu >= self.cpu_seconds)
                or (self.wall_seconds is not None and wall >= self.wall_seconds))

    def on_train_begin(self, logs=None):
        cpu, wall = self.spent()
        self._start = (time.process_time() - cpu, time.perf_counter() - wall)

    def on_train_batch_end(self, batch, logs=None):
        history = self.state.history
        done = len(history["step"])  # steps recorded before this one (HistoryRecorder comes next)
        for key, now, start in (("cpu_seconds", time.process_time(), self._start[0]),
                                ("wall_seconds", time.perf_counter(), self._start[1])):
            values = history.setdefault(key, [])
            if len(values) < done:  # a run started without a budget: its earlier steps unknown
                values[:0] = [float("nan")] * (done - len(values))
            values.append(now - start)
        if self.exhausted():
            self.model.stop_training = True


class TrainingBudget(keras.callbacks.Callback):
    """Stop training after ``max_steps`` training steps or once the process has spent
    ``cpu_seconds`` of CPU time since training began, whichever comes first (give one or
    both). A step is one ``train_step``: one discriminator update (and the generator's,
    when it is due).

    CPU time (``time.process_time``: every thread of the process, so on 2 cores about twice
    the wall time) compares recipes at equal cost on a CPU, where it is the work done: a
    recipe whose steps cost more gets fewer of them (lesson 03; ``ganlib.recipes``). On a GPU
    the host mostly waits for the device, so CPU seconds say neither how much training a
    budget buys nor how long it takes; count steps there (the lessons' ``gpu`` preset), whose
    time follows from the arithmetic of one step (``docs/gpu_estimates.md``).

    The budget is checked after every step; a CPU budget stops at most one step past it, a
    step budget exactly at it. Only time inside ``fit`` counts: with the same callback in
    several ``fit`` calls the budget continues, and what runs between them (an evaluation)
    is not charged. Raise ``cpu_seconds`` or ``max_steps`` between calls to train on to a
    later milestone.

    Args:
        cpu_seconds: CPU seconds of training, or None.
        max_steps: training steps, or None.

    Attributes after training: ``steps`` (steps taken) and ``spent`` (CPU seconds).
    """

    def __init__(self, cpu_seconds: float | None = None, max_steps: int | None = None):
        super().__init__()
        if cpu_seconds is None and max_steps is None:
            raise ValueError("a training budget needs cpu_seconds or max_steps (or both); both are None.")
        self.cpu_seconds = None if cpu_seconds is None else check_positive("cpu_seconds", cpu_seconds)
        self.max_steps = None if max_steps is None else check_positive("max_steps", max_steps, integer=True)
        self.steps = 0
        self.spent = 0.0
        self._spent_before = 0.0
        self._start = None

    def exhausted(self) -> bool:
        """Whether the budget is used up (training would stop after this step)."""
        return ((self.cpu_seconds is not None and self.spent >= self.cpu_seconds)
                or (self.max_steps is not None and self.steps >= self.max_steps))

    def on_train_begin(self, logs=None):
        self._start = time.process_time()
        self._spent_before = self.spent

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.spent = self._spent_before + time.process_time() - self._start
        if self.exhausted():
            self.model.stop_training = True


class CPUTimeBudget(TrainingBudget):
    """``TrainingBudget`` of ``cpu_seconds`` of CPU time alone (the budget of the ``quick`` and
    ``cpu`` presets); ``max_steps`` may be added."""

    def __init__(self, cpu_seconds: float, max_steps: int | None = None):
        if cpu_seconds is None:
            raise ValueError("CPUTimeBudget needs cpu_seconds; for a budget of steps alone use "
                             "TrainingBudget(max_steps=...).")
        super().__init__(cpu_seconds, max_steps)
