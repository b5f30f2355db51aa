"""Turning texts into token ids, with task words in reserved vocabulary slots.

Adaptive tokenization (see :mod:`sklearn_tsft.task_tokens`) gives some words
that the pretrained tokenizer splits into several pieces a single token of
their own, in a reserved slot (BERT's ``[unusedN]``). The slot's vocabulary
entry is renamed to the word, so the WordPiece tokenizer itself produces the
slot: fit, predict, saved models and exported models all tokenize alike,
at the speed of the Rust tokenizer.
"""

import json
import tempfile
from pathlib import Path

from transformers import AutoTokenizer


def with_words_in_slots(tokenizer, slots):
    """A copy of a WordPiece tokenizer in which reserved slots spell whole words.

    WordPiece takes the longest vocabulary entry that starts a word, so a
    task word becomes its slot, and a longer word that starts with it
    becomes the slot followed by the rest (``refunds`` -> ``refund ##s``).

    Parameters
    ----------
    tokenizer : transformers.PreTrainedTokenizerFast
        A WordPiece tokenizer with a ``tokenizer.json``.
    slots : dict of str to int
        Word (as the tokenizer normalises it) -> id of the reserved entry it takes.

    Returns
    -------
    tokenizer : transformers.PreTrainedTokenizerFast
    """
    if not slots:
        return tokenizer
    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save_pretrained(folder)
        path = Path(folder) / "tokenizer.json"
        state = json.loads(path.read_text())
        vocab = state["model"]["vocab"]
        for word, slot in slots.items():
            del vocab[tokenizer.convert_ids_to_tokens(slot)]
            vocab[word] = slot
        path.write_text(json.dumps(state))
        return AutoTokenizer.from_pretrained(folder, local_files_only=True)


class TextEncoder:
    """Tokenizer of a fitted estimator.

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
