"""Long texts: overlapping windows whose logits are combined (tiny backbone)."""

import numpy as np
import pytest
import torch

from sklearn_tsft import TokenSparseClassifier
from sklearn_tsft.backbone import load_backbone
from sklearn_tsft.long_texts import combine_windows
from sklearn_tsft._data import TextTokenizer

from .helpers import FILLER, TOPICS


def tail_revealed(n_per_class, seed):
    """Texts of 30 filler words whose label only the last three words reveal."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for label in ("card", "refund"):
        for _ in range(n_per_class):
            words = [*rng.choice(FILLER, size=30), *rng.choice(TOPICS[label], size=3)]
            texts.append(" ".join(words))
            labels.append(label)
    return texts, np.array(labels)


@pytest.fixture
def params(tiny_params):
    return dict(tiny_params, strategy="full", lr=3e-3, max_length=16, max_epochs=6)


def test_chunk_learns_a_label_that_only_the_tail_reveals(params):
    texts, labels = tail_revealed(20, seed=0)
    test_texts, test_labels = tail_revealed(20, seed=1)
    truncated = TokenSparseClassifier(**params).fit(texts, labels)
    chunked = TokenSparseClassifier(long_text="chunk", stride=4, chunk_pooling="max", **params)
    chunked.fit(texts, labels)
    # Measured: 0.525 truncated (chance), 0.95 chunked.
    assert truncated.score(test_texts, test_labels) <= 0.65
    assert chunked.score(test_texts, test_labels) >= 0.85


def test_windows_overlap_by_stride_and_cover_the_text(tiny_backbone):
    tokenizer, _, _ = load_backbone(tiny_backbone)
    text = " ".join(["word"] * 30)
    windows = TextTokenizer(tokenizer, max_length=12).encode_windows([text, "short"], stride=4)
    long, short = windows
    assert len(short) == 1 and all(len(w) <= 12 for w in long)
    inner = [w[1:-1] for w in long]
    assert sum(len(w) for w in inner) - 4 * (len(inner) - 1) == 30
    assert all(a[-4:] == b[:4] for a, b in zip(inner, inner[1:]))


def test_combine_windows_mean_and_max():
    logits = torch.tensor([[1.0, 0.0], [3.0, -2.0], [5.0, 5.0]])
    owner = torch.tensor([0, 0, 1])
    torch.testing.assert_close(combine_windows(logits, owner, 2, "mean"),
                               torch.tensor([[2.0, -1.0], [5.0, 5.0]]))
    torch.testing.assert_close(combine_windows(logits, owner, 2, "max"),
                               torch.tensor([[3.0, 0.0], [5.0, 5.0]]))


def test_short_texts_give_the_same_predictions_either_way(params, toy_data):
    plain = TokenSparseClassifier(**dict(params, max_length=64)).fit(*toy_data)
    chunked = TokenSparseClassifier(long_text="chunk", **dict(params, max_length=64))
    chunked.fit(*toy_data)
    np.testing.assert_allclose(chunked.predict_proba(toy_data[0]), plain.predict_proba(toy_data[0]),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("setting, message", [
    ({"long_text": "split"}, "long_text must be 'truncate' or 'chunk'"),
    ({"chunk_pooling": "sum"}, "chunk_pooling must be one of"),
    ({"long_text": "chunk", "stride": 14},
     "stride=14 leaves no new tokens in a window of max_length=16: use a stride of at most "
     "max_length - 3 = 13"),
])
def test_bad_long_text_settings(params, toy_data, setting, message):
    with pytest.raises(ValueError, match=message):
        TokenSparseClassifier(**params, **setting).fit(*toy_data)


def test_token_sparse_with_windows_validation_and_a_round_trip(tiny_params, tmp_path):
    texts, labels = tail_revealed(10, seed=0)
    clf = TokenSparseClassifier(long_text="chunk", max_length=16, stride=4,
                                validation_fraction=0.25, **tiny_params).fit(texts, labels)
    assert np.isfinite(clf.history_[:, "valid_loss"]).all()
    clf.save(tmp_path)
    loaded = TokenSparseClassifier.load(tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(texts), clf.predict_proba(texts))
    with pytest.warns(UserWarning, match="pipeline\\(\\) will truncate"):
        clf.export_pretrained(tmp_path / "hf")
