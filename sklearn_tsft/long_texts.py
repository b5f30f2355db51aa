"""Long texts as overlapping windows whose logits are combined per text.

With ``long_text="chunk"`` a text longer than ``max_length`` tokens is split
by the tokenizer into windows of at most ``max_length`` tokens that overlap
by ``stride`` tokens. Every window runs through the model as a row of its
own; the rows' logits are then combined into one row per text (mean or
max), in training as in prediction, so the loss sees the whole text.

:class:`Truncate` and :class:`Chunk` are the two policies as objects: how
texts become dataset items, how items become batches, and how a text's
logits are predicted; the estimator asks :func:`long_text_policy` for one.
"""

import numpy as np
import torch

from ._data import PadCollator, TokenizedTexts, pad_batch
from .inference import predict_logits

CHUNK_POOLINGS = ("mean", "max")


def combine_windows(logits, owner, n_texts, chunk_pooling):
    """One row of logits per text from the rows of its windows.

    Parameters
    ----------
    logits : Tensor of shape (n_windows, n_outputs)
    owner : Tensor of int64 of shape (n_windows,)
        Row of the text each window belongs to.
    n_texts : int
    chunk_pooling : {"mean", "max"}

    Returns
    -------
    Tensor of shape (n_texts, n_outputs)

    Examples
    --------
    >>> import torch
    >>> logits = torch.tensor([[1.0, 0.0], [3.0, -2.0], [5.0, 5.0]])
    >>> combine_windows(logits, torch.tensor([0, 0, 1]), 2, "mean")
    tensor([[ 2., -1.],
            [ 5.,  5.]])
    """
    index = owner.unsqueeze(1).expand_as(logits)
    combined = torch.zeros((n_texts, logits.shape[1]), dtype=logits.dtype, device=logits.device)
    if chunk_pooling == "max":
        return combined.scatter_reduce(0, index, logits, "amax", include_self=False)
    counts = torch.bincount(owner, minlength=n_texts).clamp(min=1).unsqueeze(1)
    return combined.scatter_add(0, index, logits) / counts.to(logits.dtype)


def window_dataset(windows, labels, sample_weight, text_index, first_window_id):
    """A :class:`~sklearn_tsft._data.TokenizedTexts` whose items are lists of windows.

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


class Truncate:
    """``long_text="truncate"``: a text longer than ``max_length`` tokens keeps its beginning.

    Parameters
    ----------
    tokenizer : TextTokenizer
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.collate = PadCollator(tokenizer.pad_token_id)

    def encode(self, texts):
        """Per text, what one dataset item holds (its token ids), and its first window."""
        ids = self.tokenizer.encode(texts)
        return ids, ids

    def subset(self, encoded, index, targets, sample_weight):
        """The dataset of the texts at ``index`` (of the encoded texts)."""
        return TokenizedTexts([encoded[i] for i in index], targets[index], sample_weight[index],
                              index)

    def logits(self, module, texts, **options):
        """Logits of each text (see :func:`~sklearn_tsft.inference.predict_logits`)."""
        return predict_logits(module, self.tokenizer.encode(texts), **options)


class Chunk:
    """``long_text="chunk"``: overlapping windows whose logits are combined per text.

    Parameters
    ----------
    tokenizer : TextTokenizer
    stride : int
        Tokens shared by consecutive windows.
    chunk_pooling : {"mean", "max"}
        How a text's window logits are combined.
    """

    def __init__(self, tokenizer, stride, chunk_pooling):
        self.tokenizer = tokenizer
        self.stride = stride
        self.chunk_pooling = chunk_pooling
        self.collate = WindowCollator(tokenizer.pad_token_id)

    def encode(self, texts):
        """Per text, its windows (one dataset item), and its first window."""
        windows = self.tokenizer.encode_windows(texts, self.stride)
        return windows, [text_windows[0] for text_windows in windows]

    def subset(self, encoded, index, targets, sample_weight):
        """The dataset of the texts at ``index``, their windows numbered fit-wide."""
        return window_dataset([encoded[i] for i in index], targets[index], sample_weight[index],
                              index, first_window_ids(encoded))

    def logits(self, module, texts, **options):
        """Logits of each text, combined from those of its windows."""
        rows, owner = flatten_windows(self.tokenizer.encode_windows(texts, self.stride))
        logits = torch.from_numpy(predict_logits(module, rows, **options))
        return combine_windows(logits, owner, len(texts), self.chunk_pooling).numpy()


def long_text_policy(long_text, tokenizer, stride, chunk_pooling):
    """The :class:`Truncate` or :class:`Chunk` policy that ``long_text`` names."""
    return Chunk(tokenizer, stride, chunk_pooling) if long_text == "chunk" else Truncate(tokenizer)
