"""explain(): word contributions by occlusion (tiny backbone)."""

import pytest

from sklearn_tsft import TokenSparseClassifier

from .helpers import make_texts


@pytest.fixture(scope="module")
def learned(tiny_backbone):
    """A tiny model that has learned the topic words (full finetuning, as in test_long_texts)."""
    clf = TokenSparseClassifier(tiny_backbone, strategy="full", lr=3e-3, head_lr=1e-1,
                                max_epochs=6, batch_size=8, random_state=0, device="cpu")
    return clf.fit(*make_texts(20))


def test_the_one_revealing_word_contributes_most(learned):
    texts = ["please my refund the is", "why the card today help"]
    explanations = learned.explain(texts)
    assert [max(pairs, key=lambda pair: pair[1])[0] for pairs in explanations] == [
        "refund", "card"]
    assert [" ".join(word for word, _ in pairs) for pairs in explanations] == texts


def test_contributions_are_probability_drops_of_the_asked_class(learned):
    text = "my card please"
    [pairs] = learned.explain([text], target="refund")
    column = list(learned.classes_).index("refund")
    full = learned.predict_proba([text])[0, column]
    without_card = learned.predict_proba(["my please"])[0, column]
    assert dict(pairs)["card"] == pytest.approx(full - without_card)


def test_bad_target_and_empty_text(learned):
    with pytest.raises(ValueError, match="target='loan' is not one of classes_"):
        learned.explain(["my card"], target="loan")
    assert learned.explain([""]) == [[]]
