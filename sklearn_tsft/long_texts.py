"""Long texts as overlapping windows whose logits are combined per text.

With ``long_text="chunk"`` a text longer than ``max_length`` tokens is split
by the tokenizer into windows of at most ``max_length`` tokens that overlap
by ``stride`` tokens. Every window runs through the model as a row of its
own; the rows' logits are then combined into one row per text (mean or
max), in training as in prediction, so the loss sees the whole text.
"""

import numpy as np
import torch

from .backbone import combine_windows
from .inference import predict_logits
from .training import PadCollator, TokenizedTexts, pad_batch


def window_dataset(windows, labels, sample_weight, text_index, first_window_id):
    """A :class:`~sklearn_tsft.training.TokenizedTexts` whose items are lists of windows.

    Parameters
    ----------
    windows : list of list of list of int
        The windows of each text.
    labels, sample_weight : ndarray
        One per text.
    text_index : ndarray of int64
        Position of each text in the fit's data.
    first_window_id : ndarray of int64
        Number of the first window of every text of the fit (indexed by
        ``text_index``); windows are numbered consecutively so that caches
        keyed by window stay distinct.
    """
    window_ids = [
        list(range(first_window_id[i], first_window_id[i] + len(w)))
        for i, w in zip(text_index, windows)
    ]
    return TokenizedTexts(windows, labels, sample_weight, window_ids)


def flatten_windows(windows):
    """All windows as rows, and the index of the text each row belongs to."""
    rows = [window for text_windows in windows for window in text_windows]
    owner = [text for text, text_windows in enumerate(windows) for _ in text_windows]
    return rows, torch.as_tensor(owner, dtype=torch.long)


def first_window_ids(windows):
    """Number of the first window of each text when all windows are numbered in order."""
    return np.concatenate([[0], np.cumsum([len(w) for w in windows])[:-1]]).astype(np.int64)


class WindowCollator(PadCollator):
    """``collate_fn`` for items of :func:`window_dataset`: windows become rows.

    The batch gains ``window_owner``, the row of the text each window
    belongs to; ``example_index`` numbers windows, not texts.
    """

    def __call__(self, items):
        windows, labels, weights, window_ids = zip(*items)
        rows, owner = flatten_windows(windows)
        padded, mask = pad_batch(rows, self.pad_token_id)
        inputs = {
            "input_ids": padded,
            "attention_mask": mask,
            "sample_weight": torch.as_tensor(np.asarray(weights), dtype=torch.float32),
            "example_index": torch.as_tensor([i for ids in window_ids for i in ids]),
            "window_owner": owner,
        }
        return inputs, torch.as_tensor(np.asarray(labels))


def predict_window_logits(module, windows, pooling, **options):
    """Logits of each text from those of its windows (see :func:`predict_logits`).

    Parameters
    ----------
    module : torch.nn.Module
    windows : list of list of list of int
        The windows of each text, as ``TextEncoder.encode_windows`` gives.
    pooling : {"mean", "max"}
    **options
        Passed to :func:`~sklearn_tsft.inference.predict_logits`.

    Returns
    -------
    logits : ndarray of shape (n_texts, n_outputs), float32
    """
    rows, owner = flatten_windows(windows)
    logits = torch.from_numpy(predict_logits(module, rows, **options))
    return combine_windows(logits, owner, len(windows), pooling).numpy()
