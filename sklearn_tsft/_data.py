"""Texts as token ids, and token ids as padded batches: shared by training and prediction."""

import numpy as np
import torch


def per_class_sample(class_index, n_classes, per_class, seed):
    """Sorted positions of at most ``per_class`` texts of each class, drawn with ``seed``.

    Examples
    --------
    >>> per_class_sample(np.array([0, 0, 0, 1]), 2, 2, seed=0).size
    3
    """
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([
        rng.permutation(np.flatnonzero(class_index == k))[:per_class] for k in range(n_classes)]))


class TextTokenizer:
    """Texts to token ids, as one fit trains and predicts (truncated, or in windows).

    Parameters
    ----------
    tokenizer : transformers.PreTrainedTokenizerFast
        The backbone's tokenizer (with task words in slots, if any).
    max_length : int
        Texts are truncated to this many tokens, special tokens included.
    """

    def __init__(self, tokenizer, max_length):
        self.tokenizer = tokenizer
        self.max_length = max_length

    @property
    def pad_token_id(self):
        return self.tokenizer.pad_token_id

    def encode(self, texts):
        """Token ids of each text, unpadded.

        Parameters
        ----------
        texts : list of str

        Returns
        -------
        input_ids : list of list of int
        """
        return self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]

    def words_read(self, text, words):
        """How many of ``words`` (``text.split()``) reach the model before truncation.

        Needs a fast tokenizer (character offsets); with a slow one, every word.
        """
        if not self.tokenizer.is_fast:
            return len(words)
        offsets = self.tokenizer(text, truncation=True, max_length=self.max_length,
                                 return_offsets_mapping=True)["offset_mapping"]
        read = max((end for start, end in offsets if end > start), default=None)
        if read is None:
            return len(words)
        position = 0
        for count, word in enumerate(words):
            position = text.index(word, position)
            if position >= read:
                return count
            position += len(word)
        return len(words)

    def encode_windows(self, texts, stride):
        """Token ids of the overlapping windows of each text.

        Parameters
        ----------
        texts : list of str
        stride : int
            Tokens shared by consecutive windows.

        Returns
        -------
        windows : list of list of list of int
            At least one window per text, each at most ``max_length`` ids.
        """
        encoding = self.tokenizer(
            texts, truncation=True, max_length=self.max_length, stride=stride,
            return_overflowing_tokens=True,
        )
        windows = [[] for _ in texts]
        for ids, text in zip(encoding["input_ids"], encoding["overflow_to_sample_mapping"]):
            windows[text].append(ids)
        return windows


class TokenizedTexts(torch.utils.data.Dataset):
    """Token ids of texts, with labels and sample weights for training.

    Parameters
    ----------
    input_ids : list of list of int
        Unpadded token ids of each text.
    labels : ndarray of int64 or float32, optional
        Encoded class of each text (int64), or its row of a multi-label
        indicator matrix (float32); zeros when only predicting.
    sample_weight : ndarray of float32, optional
        Weight of each text in the loss; ones when omitted.
    example_index : ndarray of int64, optional
        A number identifying each text across datasets of one fit (for
        caches); positions when omitted.
    """

    def __init__(self, input_ids, labels=None, sample_weight=None, example_index=None):
        n_texts = len(input_ids)
        self.input_ids = input_ids
        self.example_index = np.arange(n_texts) if example_index is None else example_index
        self.labels = np.zeros(n_texts, dtype=np.int64) if labels is None else labels
        self.sample_weight = (
            np.ones(n_texts, dtype=np.float32) if sample_weight is None else sample_weight
        )

    def __len__(self):
        return len(self.input_ids)

    def __getitem__(self, index):
        return (
            self.input_ids[index],
            self.labels[index],
            self.sample_weight[index],
            self.example_index[index],
        )


def pad_batch(input_ids, pad_token_id):
    """Pad token id lists to the longest one; return ids and attention mask."""
    longest = max(len(ids) for ids in input_ids)
    padded = torch.full((len(input_ids), longest), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(input_ids), longest), dtype=torch.long)
    for row, ids in enumerate(input_ids):
        padded[row, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
        mask[row, : len(ids)] = 1
    return padded, mask


# The fixed cost of one more forward and backward pass on a CPU, in token
# positions: about 30 ms on MiniLM, where a position costs about 0.4 ms.
CPU_PASS_COST = 64


def batch_length_groups(attention_mask):
    """:func:`length_groups` of a right-padded batch on a CPU; None (one pass) elsewhere.

    On accelerators a pass's fixed cost (kernel launches) is not measured
    here, so their batches stay whole.
    """
    if attention_mask.device.type != "cpu":
        return None
    return length_groups(attention_mask.sum(dim=1).numpy(), CPU_PASS_COST)


def batch_rows(batch, rows, attention_mask):
    """Rows of a right-padded batch (a dict of tensors), padded to their own longest text.

    Tensors shaped like ``attention_mask`` lose the columns past those rows'
    longest text; the others keep their rows only.
    """
    width = int(attention_mask[rows].sum(dim=1).max())
    return {key: value[rows][:, :width] if value.shape == attention_mask.shape else value[rows]
            for key, value in batch.items()}


def length_groups(lengths, pass_cost):
    """Rows of a padded batch split into groups of similar length, or None for one group.

    A forward pass over a group computes ``len(group) x its longest length``
    token positions, padding included, plus a fixed cost per pass. The
    groups (contiguous runs of the rows sorted by length) minimise that
    total; a batch of texts of mixed lengths then computes far fewer padded
    positions.

    Parameters
    ----------
    lengths : ndarray of int
        Each row's length in tokens.
    pass_cost : float
        The fixed cost of one more forward pass, in token positions.

    Returns
    -------
    groups : list of ndarray of int, or None
        Row indices of each group, longest texts first; None when one pass
        over the whole batch costs least.

    Examples
    --------
    >>> length_groups(np.array([5, 50, 6, 48]), pass_cost=10)
    [array([1, 3]), array([2, 0])]
    >>> length_groups(np.array([5, 50, 6, 48]), pass_cost=100) is None
    True
    """
    order = np.argsort(-np.asarray(lengths), kind="stable")
    longest = np.asarray(lengths)[order]
    n_rows = len(order)
    # best[end]: the least cost of the first `end` sorted rows; first[end]:
    # where the last group of that split starts.
    best = np.zeros(n_rows + 1)
    first = np.zeros(n_rows + 1, dtype=int)
    for end in range(1, n_rows + 1):
        starts = np.arange(end)
        costs = best[:end] + (end - starts) * longest[:end] + pass_cost
        first[end] = int(np.argmin(costs))
        best[end] = costs[first[end]]
    bounds = [n_rows]
    while bounds[-1] > 0:
        bounds.append(first[bounds[-1]])
    if len(bounds) == 2:
        return None
    bounds.reverse()
    return [order[start:end] for start, end in zip(bounds[:-1], bounds[1:])]


class PadCollator:
    """DataLoader ``collate_fn``: dynamic padding plus labels and weights."""

    def __init__(self, pad_token_id):
        self.pad_token_id = pad_token_id

    def __call__(self, items):
        input_ids, labels, weights, example_index = zip(*items)
        padded, mask = pad_batch(input_ids, self.pad_token_id)
        inputs = {
            "input_ids": padded,
            "attention_mask": mask,
            "sample_weight": torch.as_tensor(np.asarray(weights), dtype=torch.float32),
            "example_index": torch.as_tensor(np.asarray(example_index), dtype=torch.long),
        }
        # int64 class indices, or float32 rows of a multi-label indicator matrix.
        return inputs, torch.as_tensor(np.asarray(labels))
