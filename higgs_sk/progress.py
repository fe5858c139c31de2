"""A one-line, per-epoch training progress bar for the command line.

Keras' own bar redraws per batch and prints a line per epoch, which floods a
terminal for 100 epochs; this one redraws a single line per epoch.

Examples
--------
>>> import io
>>> from higgs_sk.progress import EpochProgress
>>> bar = EpochProgress(total_epochs=4, stream=io.StringIO())
>>> bar.on_epoch_end(0, {"loss": 0.69, "val_loss": 0.68})
>>> "epoch   1/4" in bar.stream.getvalue()
True
"""

from __future__ import annotations

import sys
import time

import keras

__all__ = ["EpochProgress"]


class EpochProgress(keras.callbacks.Callback):
    """Draw ``epoch k/N [#####.....] loss … val_loss …`` on one line.

    Parameters
    ----------
    total_epochs : int
        The epoch budget; early stopping may end sooner.
    stream : file-like, default=sys.stderr
    width : int, default=30
        Characters in the bar.
    """

    def __init__(self, total_epochs, stream=None, width=30):
        super().__init__()
        self.total_epochs = int(total_epochs)
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self._start = time.perf_counter()

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        done = epoch + 1
        filled = int(self.width * min(done, self.total_epochs) / max(self.total_epochs, 1))
        bar = "#" * filled + "." * (self.width - filled)
        parts = [f"{k} {logs[k]:.4f}" for k in ("loss", "val_loss", "val_accuracy") if k in logs]
        elapsed = time.perf_counter() - self._start
        line = f"epoch {done:3d}/{self.total_epochs} [{bar}] {'  '.join(parts)}  {elapsed:5.1f}s"
        # Redraw in place on a terminal; one line per epoch in a log file.
        tty = getattr(self.stream, "isatty", lambda: False)()
        self.stream.write("\r" + line if tty else line + "\n")
        self.stream.flush()

    def on_train_end(self, logs=None):
        if getattr(self.stream, "isatty", lambda: False)():
            self.stream.write("\n")
            self.stream.flush()
