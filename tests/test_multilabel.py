"""Multi-label classification with a 0/1 indicator matrix (tiny backbone)."""

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import MultiLabelBinarizer

from sklearn_tsft import TokenSparseClassifier

from .helpers import make_texts


@pytest.fixture(scope="module")
def multilabel_data():
    """Texts about one topic, 40% of them also about refunds."""
    texts, topics = make_texts(15, classes=("card", "refund", "transfer"))
    rng = np.random.default_rng(0)
    label_sets = []
    for i, topic in enumerate(topics):
        labels = {topic}
        if rng.random() < 0.4:
            texts[i] += " refund"
            labels.add("refund")
        label_sets.append(labels)
    binarizer = MultiLabelBinarizer(classes=["card", "refund", "transfer"])
    return texts, binarizer.fit_transform(label_sets)


@pytest.fixture
def params(tiny_params):
    return dict(tiny_params, strategy="full", lr=1e-3)


@pytest.fixture
def fitted(params, multilabel_data):
    return TokenSparseClassifier(**params).fit(*multilabel_data)


def test_predict_returns_the_indicator_matrix_and_proba_is_per_label(fitted, multilabel_data):
    texts, indicator = multilabel_data
    assert fitted.multilabel_ and list(fitted.classes_) == [0, 1, 2]
    proba = fitted.predict_proba(texts)
    assert proba.shape == indicator.shape and ((proba > 0) & (proba < 1)).all()
    assert not np.allclose(proba.sum(axis=1), 1)  # one sigmoid per label, not a softmax
    predicted = fitted.predict(texts)
    np.testing.assert_array_equal(predicted, (proba >= 0.5).astype(int))
    assert (predicted == indicator).mean() >= 0.8
    np.testing.assert_allclose(np.exp(fitted.predict_log_proba(texts)), proba, rtol=1e-6)
    assert fitted.decision_function(texts).shape == indicator.shape


def test_threshold_moves_the_decision(params, multilabel_data):
    texts, indicator = multilabel_data
    low = TokenSparseClassifier(threshold=0.05, **params).fit(texts, indicator)
    high = TokenSparseClassifier(threshold=0.95, **params).fit(texts, indicator)
    assert low.predict(texts).sum() > high.predict(texts).sum()


def test_token_sparse_trains_on_label_sets(tiny_params, multilabel_data):
    clf = TokenSparseClassifier(**tiny_params).fit(*multilabel_data)
    assert clf.multilabel_ and clf.task_tokens_
    assert clf.predict(multilabel_data[0]).shape == multilabel_data[1].shape


def test_cross_val_score_with_f1_micro(params, multilabel_data):
    scores = cross_val_score(TokenSparseClassifier(**params), *multilabel_data, cv=3,
                             scoring="f1_micro")
    assert scores.shape == (3,) and (scores > 0.5).all()


def test_one_dimensional_y_stays_multiclass(params, toy_data):
    clf = TokenSparseClassifier(**params).fit(*toy_data)
    assert not clf.multilabel_
    np.testing.assert_allclose(clf.predict_proba(toy_data[0]).sum(axis=1), 1)


def test_save_load_and_export_keep_multilabel(fitted, multilabel_data, tmp_path):
    from transformers import AutoConfig

    texts = multilabel_data[0]
    fitted.save(tmp_path / "saved")
    loaded = TokenSparseClassifier.load(tmp_path / "saved")
    np.testing.assert_array_equal(loaded.predict(texts), fitted.predict(texts))
    fitted.export_pretrained(tmp_path / "hf")
    assert AutoConfig.from_pretrained(tmp_path / "hf").problem_type == "multi_label_classification"


@pytest.mark.parametrize("change, message", [
    (lambda y: y * 2, "must be a 0/1 indicator matrix"),
    (lambda y: y[:-1], "different lengths"),
])
def test_bad_indicator_matrices(params, multilabel_data, change, message):
    texts, indicator = multilabel_data
    with pytest.raises(ValueError, match=message):
        TokenSparseClassifier(**params).fit(texts, change(indicator))


@pytest.mark.parametrize("setting", [{"class_weight": "balanced"},
                                     {"calibrate": True, "validation_fraction": 0.2}])
def test_options_for_one_label_per_text_are_refused(params, multilabel_data, setting):
    with pytest.raises(ValueError, match="is for one label per text"):
        TokenSparseClassifier(**params, **setting).fit(*multilabel_data)


def test_auto_threshold_tunes_one_threshold_per_label_on_the_validation_split(
        params, multilabel_data, tmp_path):
    from sklearn_tsft.thresholds import CANDIDATES, label_indicators

    texts, indicator = multilabel_data
    clf = TokenSparseClassifier(**params, threshold="auto", validation_fraction=0.3)
    clf.fit(texts, indicator)
    assert clf.label_thresholds_.shape == (3,)
    assert np.isin(clf.label_thresholds_, CANDIDATES).all()
    proba = clf.predict_proba(texts)
    np.testing.assert_array_equal(clf.predict(texts),
                                  label_indicators(proba, clf.label_thresholds_))
    clf.save(tmp_path / "model")
    loaded = TokenSparseClassifier.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.label_thresholds_, clf.label_thresholds_)
    np.testing.assert_array_equal(loaded.predict(texts), clf.predict(texts))


def test_auto_threshold_needs_a_validation_split_and_a_tuned_fit(params, fitted,
                                                                 multilabel_data):
    with pytest.raises(ValueError, match="threshold='auto'.*validation_fraction"):
        TokenSparseClassifier(**params, threshold="auto").fit(*multilabel_data)
    assert fitted.label_thresholds_ is None
    fitted.set_params(threshold="auto")
    try:
        with pytest.raises(ValueError, match="fitted with a fixed threshold"):
            fitted.predict(multilabel_data[0])
    finally:
        fitted.set_params(threshold=0.5)


def test_at_least_one_label_answers_the_most_probable_when_none_passes(fitted,
                                                                       multilabel_data):
    texts = multilabel_data[0]
    proba = fitted.predict_proba(texts)
    fitted.set_params(threshold=0.999, at_least_one_label=True)
    try:
        predicted = fitted.predict(texts)
    finally:
        fitted.set_params(threshold=0.5, at_least_one_label=False)
    assert (predicted.sum(axis=1) >= 1).all()
    none_passed = (proba < 0.999).all(axis=1)
    assert none_passed.any()
    np.testing.assert_array_equal(predicted[none_passed].argmax(axis=1),
                                  proba[none_passed].argmax(axis=1))


def test_a_dataframe_y_names_the_labels(params, multilabel_data, tmp_path):
    import json

    import pandas as pd

    texts, indicator = multilabel_data
    frame = pd.DataFrame(indicator, columns=["card", "refund", "transfer"])
    clf = TokenSparseClassifier(**params).fit(texts, frame)
    assert list(clf.classes_) == ["card", "refund", "transfer"]
    clf.export_pretrained(tmp_path / "hf")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["id2label"] == {"0": "card", "1": "refund", "2": "transfer"}
