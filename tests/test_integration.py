"""The real default backbone on a small slice of banking77 (marked integration)."""

import pytest

from sklearn_tsft import TokenSparseClassifier

pytestmark = pytest.mark.integration


def banking_slice(frame, categories, per_class, seed=0):
    chosen = frame[frame.category.isin(categories)]
    return chosen.groupby("category").sample(per_class, random_state=seed)


def test_default_backbone_learns_ten_banking_intents(banking77):
    train, test = banking77
    categories = sorted(train.category.unique())[:10]
    train_slice = banking_slice(train, categories, 30)
    test_slice = banking_slice(test, categories, 10)
    clf = TokenSparseClassifier(max_epochs=3, random_state=0, device="cpu")
    clf.fit(train_slice.text, train_slice.category)
    accuracy = clf.score(test_slice.text, test_slice.category)
    # chance is 10%
    assert accuracy >= 0.7, accuracy
