"""Task token groups: the words most tied to the labels, and adaptive tokenization.

A token group is a whole word as the backbone's tokenizer sees it: the tuple
of subword pieces it is split into. Each group is scored by the chi-square
statistic of its presence in a text against the text's class; groups seen in
fewer than ``min_count`` texts are dropped so that rare noise cannot score.

Adaptive tokenization gives the strongest multi-piece groups a single token
of their own without growing the model: each takes a free slot, whose
embedding is set to the mean of the pieces' embeddings. Free slots are a
WordPiece vocabulary's reserved entries (BERT's ``[unusedN]``), renamed to
the word; else the rows of the embedding matrix that no token reaches
(byte-level BPE and SentencePiece models such as Qwen2, DeBERTa-v3 or
ModernBERT pad their matrix beyond the vocabulary), where the word becomes
an added token.
"""

import json
import re
import tempfile
from collections import namedtuple
from pathlib import Path

import numpy as np
import scipy.sparse
import torch
from sklearn.feature_selection import chi2
from tokenizers import AddedToken
from tokenizers.models import WordPiece
from transformers import AutoTokenizer

TaskToken = namedtuple("TaskToken", ["word", "score", "count", "pieces", "slot"])
TaskToken.__doc__ = """A task token group found in the training data.

word : str
    The word, as the tokenizer normalises it.
score : float
    Chi-square statistic of the word's presence against the class.
count : int
    Number of training texts that contain it.
pieces : tuple of str
    The subword pieces the pretrained tokenizer splits it into.
slot : int or None
    Vocabulary id of the free slot that now spells the whole word (a
    reserved ``[unusedN]`` entry renamed to the word, or a spare embedding
    row reached by an added token), if the word took one.

Examples
--------
>>> token = TaskToken("refund", 161.9, 63, ("ref", "##und"), 5)
>>> token.word, token.pieces
('refund', ('ref', '##und'))
"""

_RESERVED = re.compile(r"^\[unused\d+\]$")


def reserved_slots(tokenizer):
    """Ids of vocabulary entries reserved for new tokens, in id order.

    Only WordPiece tokenizers qualify: their slots can be renamed to whole
    words (:func:`with_words_in_slots`).
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if not isinstance(getattr(backend, "model", None), WordPiece):
        return []
    vocab = tokenizer.get_vocab()
    return sorted(index for token, index in vocab.items() if _RESERVED.match(token))


def spare_rows(tokenizer, n_embeddings):
    """Ids of embedding rows that no token reaches: from ``len(tokenizer)`` to ``n_embeddings``."""
    return list(range(len(tokenizer), n_embeddings))


def free_slots(tokenizer, n_embeddings):
    """Where whole task words can go: reserved WordPiece entries, else spare embedding rows."""
    return reserved_slots(tokenizer) or spare_rows(tokenizer, n_embeddings)


def word_groups(tokenizer, texts, max_length):
    """The set of word piece-id tuples in each text (special tokens excluded)."""
    encoding = tokenizer(texts, truncation=True, max_length=max_length)
    groups = []
    for row in range(len(texts)):
        ids, word_ids = encoding["input_ids"][row], encoding.word_ids(row)
        words = {}
        for token_id, word in zip(ids, word_ids):
            if word is not None:
                words.setdefault(word, []).append(token_id)
        groups.append({tuple(pieces) for pieces in words.values()})
    return groups


def score_groups(groups, labels, min_count):
    """Chi-square score of each group seen in at least ``min_count`` texts.

    Returns
    -------
    vocabulary : list of tuple of int
    scores : ndarray of float
    counts : ndarray of int
    """
    index = {}
    rows, cols = [], []
    for row, text_groups in enumerate(groups):
        for group in text_groups:
            rows.append(row)
            cols.append(index.setdefault(group, len(index)))
    presence = scipy.sparse.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(len(groups), len(index))
    )
    counts = np.asarray(presence.sum(axis=0)).ravel().astype(int)
    frequent = np.flatnonzero(counts >= min_count)
    if len(frequent) == 0:
        return [], np.array([]), np.array([], dtype=int)
    scores, _ = chi2(presence[:, frequent], labels)
    vocabulary = list(index)
    return [vocabulary[i] for i in frequent], np.nan_to_num(scores), counts[frequent]


def discover_task_tokens(tokenizer, texts, labels, *, n_groups, min_count, max_length):
    """Find the ``n_groups`` word groups most tied to the labels.

    Parameters
    ----------
    tokenizer : transformers.PreTrainedTokenizerFast
    texts : list of str
    labels : ndarray of int
    n_groups : int
        How many groups to keep.
    min_count : int
        Groups in fewer texts than this are never kept.
    max_length : int
        Truncation used for the texts.

    Returns
    -------
    groups : list of tuple of int
        Piece ids of each kept group, best first.
    scores : ndarray of float
    counts : ndarray of int
    """
    vocabulary, scores, counts = score_groups(
        word_groups(tokenizer, texts, max_length), labels, min_count
    )
    # Stable sort on the negated score: ties keep first-seen order, so the
    # result is the same on every run.
    best = np.argsort(-scores, kind="stable")[:n_groups]
    best = best[scores[best] > 0]
    return [vocabulary[i] for i in best], scores[best], counts[best]


def assign_slots(groups, slots):
    """Give each multi-piece group one of ``slots``, best groups first.

    Returns
    -------
    merges : dict of tuple of int to int
        Piece ids -> id of the slot that the whole word takes.
    """
    multi_piece = [group for group in groups if len(group) > 1]
    return dict(zip(multi_piece, slots))


@torch.no_grad()
def initialise_slot_embeddings(embeddings, merges):
    """Set each slot's embedding to the mean of its pieces' embeddings."""
    for pieces, slot in merges.items():
        embeddings.weight[slot] = embeddings.weight[list(pieces)].mean(dim=0)


def describe(tokenizer, groups, scores, counts, merges):
    """Person-readable :class:`TaskToken` records for ``task_tokens_``."""
    records = []
    for group, score, count in zip(groups, scores, counts):
        pieces = tuple(tokenizer.convert_ids_to_tokens(list(group)))
        slot = merges.get(group)
        records.append(
            TaskToken(
                # Byte-level BPE decodes a word with its leading space.
                word=tokenizer.decode(list(group)).strip(),
                score=round(float(score), 4),
                count=int(count),
                pieces=pieces,
                slot=slot,
            )
        )
    return records


def with_words_in_slots(tokenizer, slots):
    """A copy of the tokenizer in which the slots spell whole words.

    In a WordPiece tokenizer the reserved entries are renamed to the words.
    WordPiece takes the longest vocabulary entry that starts a word, so a
    task word becomes its slot, and a longer word that starts with it
    becomes the slot followed by the rest (``refunds`` -> ``refund ##s``).
    Other tokenizers get each word as an added token, matched as a whole
    word with the space before it, whose id is its spare row.

    Parameters
    ----------
    tokenizer : transformers.PreTrainedTokenizerFast
        With a ``tokenizer.json``.
    slots : dict of str to int
        Word (as the tokenizer normalises it) -> id of the slot it takes,
        from :func:`free_slots`.

    Returns
    -------
    tokenizer : transformers.PreTrainedTokenizerFast
    """
    if not slots:
        return tokenizer
    if not reserved_slots(tokenizer):
        return _with_added_words(tokenizer, slots)
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


def _with_added_words(tokenizer, slots):
    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save_pretrained(folder)
        adapted = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    # Added tokens take the next ids in turn: the spare rows, in order.
    for word, slot in sorted(slots.items(), key=lambda item: item[1]):
        if slot != len(adapted):
            raise RuntimeError(f"the word {word!r} should take id {slot}, the next free id is "
                               f"{len(adapted)}")
        adapted.add_tokens(AddedToken(word, single_word=True, lstrip=True, normalized=False))
    return adapted
