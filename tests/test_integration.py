"""The real default backbone on a small slice of banking77 (marked integration)."""

import numpy as np
import pytest

from sklearn_tsft import TokenSparseClassifier

pytestmark = pytest.mark.integration


def banking_slice(frame, categories, per_class, seed=0):
    chosen = frame[frame.category.isin(categories)]
    return chosen.groupby("category").sample(per_class, random_state=seed)


@pytest.fixture(scope="module")
def ten_intents(banking77):
    """A default fit on 30 texts of each of ten intents, and 10 test texts of each."""
    train, test = banking77
    categories = sorted(train.category.unique())[:10]
    train_slice = banking_slice(train, categories, 30)
    test_slice = banking_slice(test, categories, 10)
    clf = TokenSparseClassifier(max_epochs=3, random_state=0, device="cpu")
    clf.fit(train_slice.text, train_slice.category)
    return clf, list(test_slice.text), test_slice.category.to_numpy()


def test_default_backbone_learns_ten_banking_intents(ten_intents):
    clf, texts, labels = ten_intents
    accuracy = clf.score(texts, labels)
    # chance is 10%
    assert accuracy >= 0.7, accuracy


def test_saved_model_predicts_identically(ten_intents, tmp_path):
    clf, texts, _ = ten_intents
    clf.save(tmp_path)
    loaded = TokenSparseClassifier.load(tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(texts), clf.predict_proba(texts))


def test_int8_onnx_keeps_the_predictions(ten_intents, tmp_path):
    pytest.importorskip("onnxruntime", reason="needs sklearn-tsft[onnx]")
    clf, texts, _ = ten_intents
    clf.export_onnx(tmp_path, quantize="int8")
    served = TokenSparseClassifier.load(tmp_path, backend="onnx")
    assert (served.predict(texts) == clf.predict(texts)).mean() >= 0.97
    # int8 moves single probabilities by up to ~0.1; on average far less.
    assert np.abs(served.predict_proba(texts) - clf.predict_proba(texts)).mean() < 0.01
