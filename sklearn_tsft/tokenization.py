"""Turning texts into token ids, with optional merged task tokens.

Adaptive tokenization (see :mod:`sklearn_tsft.task_tokens`) gives some words
that the pretrained tokenizer splits into several pieces a single token of
their own, in a reserved vocabulary slot. :class:`TextEncoder` applies that
mapping after the pretrained tokenizer, word by word, so fit and predict see
the same ids.
"""


class TextEncoder:
    """Tokenizer of a fitted estimator.

    Parameters
    ----------
    tokenizer : transformers.PreTrainedTokenizerFast
        The backbone's tokenizer.
    max_length : int
        Texts are truncated to this many tokens, special tokens included.
    merges : dict of tuple of int to int, optional
        Maps the piece ids of a whole word to the single id that replaces them.
    """

    def __init__(self, tokenizer, max_length, merges=None):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.merges = dict(merges or {})

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
        encoding = self.tokenizer(texts, truncation=True, max_length=self.max_length)
        if not self.merges:
            return encoding["input_ids"]
        return [
            self._merge(encoding["input_ids"][row], encoding.word_ids(row))
            for row in range(len(texts))
        ]

    def _merge(self, ids, word_ids):
        merged, start = [], 0
        while start < len(ids):
            end = start + 1
            if word_ids[start] is not None:
                while end < len(ids) and word_ids[end] == word_ids[start]:
                    end += 1
            pieces = tuple(ids[start:end])
            # A word cut by truncation is not a whole word: keep its pieces.
            whole = end < len(ids) or word_ids[start] is None
            if whole and pieces in self.merges:
                merged.append(self.merges[pieces])
            else:
                merged.extend(pieces)
            start = end
        return merged
