"""One progress bar for a whole fit: its phases, and the optimizer steps of every epoch.

At ``verbose=1`` a fit shows a single tqdm bar on stderr. Its label names
the phase (loading, task tokens, selection, training, statistics); while
training it counts the optimizer steps of all epochs, so its ETA is the
fit's, with the last epoch's losses beside it. ``verbose=0`` shows
nothing. tqdm itself writes no colour codes; where stderr is not a
terminal (a log file, a pipe), the bar is redrawn at most every
``PIPED_INTERVAL`` seconds instead of many times a second.
"""

import contextlib
import re
import sys

from skorch.callbacks import Callback, PrintLog
from tqdm.auto import tqdm

PHASES = ("loading", "task tokens", "selection", "training", "statistics")
# Seconds between redraws when stderr is a file or a pipe.
PIPED_INTERVAL = 10.0
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def is_terminal(stream):
    return hasattr(stream, "isatty") and stream.isatty()


class FitProgress:
    """The bar of one fit; a disabled one (``enabled=False``) does nothing.

    Parameters
    ----------
    enabled : bool
    file : file-like, default=None
        Where the bar goes; None: ``sys.stderr`` at creation.
    """

    def __init__(self, enabled, file=None):
        file = sys.stderr if file is None else file
        self.bar = tqdm(total=None, desc=PHASES[0], unit="step", file=file, disable=not enabled,
                        dynamic_ncols=True, leave=True,
                        mininterval=0.1 if is_terminal(file) else PIPED_INTERVAL)

    def phase(self, name):
        """Label the bar with the phase the fit enters."""
        if name not in PHASES:
            raise ValueError(f"unknown phase {name!r}; phases are {PHASES}")
        self.bar.set_description_str(name, refresh=True)

    def start_training(self, n_steps):
        """Enter the training phase: the bar now counts ``n_steps`` optimizer steps."""
        self.bar.reset(total=n_steps)
        self.phase("training")

    def step(self):
        self.bar.update()

    def show_losses(self, losses):
        self.bar.set_postfix({name: f"{value:.4f}" for name, value in losses.items()},
                             refresh=False)

    def close(self):
        self.bar.close()

    def callback(self):
        """The skorch callback that advances this bar during ``net.fit``."""
        return ProgressCallback(self)


@contextlib.contextmanager
def fit_progress(enabled):
    """A :class:`FitProgress`, closed however the fit ends."""
    progress = FitProgress(enabled)
    try:
        yield progress
    finally:
        progress.close()


class ProgressCallback(Callback):
    """Advance a :class:`FitProgress` by one per training batch; show each epoch's losses."""

    def __init__(self, progress):
        self.progress = progress

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            self.progress.step()

    def on_epoch_end(self, net, **kwargs):
        last = net.history[-1]
        self.progress.show_losses({key: last[key] for key in ("train_loss", "valid_loss")
                                   if key in last})


class PlainPrintLog(PrintLog):
    """skorch's epoch table (``verbose=2``), without colour codes where stdout is no terminal."""

    def format_row(self, row, key, color):
        text = super().format_row(row, key, color)
        if isinstance(text, str) and not is_terminal(sys.stdout):
            return _ANSI.sub("", text)
        return text
