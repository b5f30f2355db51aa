"""Class imbalance (class_weight, sample_weight) and calibrated probabilities (tiny backbone)."""

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.calibration import CalibratedClassifierCV
from sklearn.utils.class_weight import compute_sample_weight

from sklearn_tsft import TokenSparseClassifier
from sklearn_tsft.calibration import expected_calibration_error, fit_temperature

from .helpers import make_texts


def imbalanced(n_major, n_minor, seed):
    """``n_major`` "card" texts and ``n_minor`` "refund" texts."""
    cards, _ = make_texts(n_major, seed=seed, classes=("card",))
    refunds, _ = make_texts(n_minor, seed=seed + 1, classes=("refund",))
    return cards + refunds, np.array(["card"] * n_major + ["refund"] * n_minor)


def minority_recall(clf, texts, labels):
    minority = labels == "refund"
    return (clf.predict([t for t, m in zip(texts, minority) if m]) == "refund").mean()


def test_balanced_class_weight_raises_minority_recall_on_a_95_5_split(tiny_params):
    texts, labels = imbalanced(57, 3, seed=0)
    test_texts, test_labels = imbalanced(20, 20, seed=10)
    params = dict(tiny_params, strategy="full", lr=1e-3, max_epochs=3)
    plain = TokenSparseClassifier(**params).fit(texts, labels)
    balanced = TokenSparseClassifier(class_weight="balanced", **params).fit(texts, labels)
    assert minority_recall(balanced, test_texts, test_labels) > minority_recall(
        plain, test_texts, test_labels)


def test_sample_weight_equal_to_balanced_class_weight_gives_the_same_model(tiny_params):
    texts, labels = imbalanced(18, 2, seed=0)
    by_class = TokenSparseClassifier(class_weight="balanced", **tiny_params).fit(texts, labels)
    by_sample = TokenSparseClassifier(**tiny_params).fit(
        texts, labels, sample_weight=compute_sample_weight("balanced", labels))
    np.testing.assert_array_equal(by_class.predict_proba(texts), by_sample.predict_proba(texts))


def test_fit_temperature_recovers_a_known_overconfidence():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 5)) * 2
    labels = np.array([rng.choice(5, p=p) for p in softmax(logits, axis=1)])
    assert fit_temperature(3 * logits, labels) == pytest.approx(3, rel=0.1)
    assert fit_temperature(logits, labels) == pytest.approx(1, rel=0.1)


def test_calibrate_rescales_probabilities_and_keeps_predictions(tiny_params, toy_data):
    params = dict(tiny_params, validation_fraction=0.25)
    plain = TokenSparseClassifier(**params).fit(*toy_data)
    calibrated = TokenSparseClassifier(calibrate=True, **params).fit(*toy_data)
    assert plain.temperature_ == 1.0 and calibrated.temperature_ != 1.0
    texts = toy_data[0]
    np.testing.assert_array_equal(calibrated.predict(texts), plain.predict(texts))
    logits = np.log(plain.predict_proba(texts))
    np.testing.assert_allclose(calibrated.predict_proba(texts),
                               softmax(logits / calibrated.temperature_, axis=1), rtol=1e-6)


def test_calibrate_needs_a_validation_split(tiny_params, toy_data):
    with pytest.raises(ValueError, match="calibrate=True .* set validation_fraction"):
        TokenSparseClassifier(calibrate=True, **tiny_params).fit(*toy_data)


def test_works_inside_calibrated_classifier_cv(tiny_params, toy_data):
    texts, labels = toy_data
    calibrated = CalibratedClassifierCV(
        TokenSparseClassifier(**dict(tiny_params, max_epochs=2)), cv=2, method="sigmoid")
    proba = calibrated.fit(texts, labels).predict_proba(texts)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    assert list(calibrated.classes_) == ["card", "refund"]
    assert 0 <= expected_calibration_error(labels, proba, calibrated.classes_) <= 1
