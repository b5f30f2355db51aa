"""Property tests: arbitrary unicode, empty and very long texts, odd label types."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sklearn_tsft import TokenSparseClassifier

from .helpers import make_texts, tiny_backbone_dir

any_text = st.one_of(
    st.text(max_size=200),
    st.just(""),
    st.text(alphabet="ab é中😀\x00\n", min_size=3000, max_size=5000),
)
label_kinds = st.sampled_from(
    [st.integers(-3, 3), st.text(min_size=0, max_size=3), st.booleans(), st.sampled_from([1.0, 2.0])]
)


@pytest.fixture(scope="module")
def fitted():
    texts, labels = make_texts(10)
    clf = TokenSparseClassifier(tiny_backbone_dir(), max_epochs=1, max_length=64, device="cpu",
                                random_state=0)
    return clf.fit(texts, labels)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(any_text, min_size=1, max_size=10))
def test_predict_proba_on_any_texts_is_a_distribution(fitted, texts):
    proba = fitted.predict_proba(texts)
    assert proba.shape == (len(texts), 2)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(fitted.predict(texts)) <= set(fitted.classes_)


@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_fit_on_any_texts_and_labels_works_or_says_why(data):
    n_texts = data.draw(st.integers(1, 6))
    texts = data.draw(st.lists(any_text, min_size=n_texts, max_size=n_texts))
    labels = data.draw(st.lists(data.draw(label_kinds), min_size=n_texts, max_size=n_texts))
    clf = TokenSparseClassifier(tiny_backbone_dir(), max_epochs=1, max_length=32, device="cpu",
                                random_state=0)
    try:
        clf.fit(texts, labels)
    except ValueError as exc:
        # The two documented refusals: one class, and no word that tells
        # the classes apart (token_sparse needs one).
        assert "only one class" in str(exc) or "No task token group found" in str(exc)
        return
    assert len(set(labels)) >= 2
    assert sorted(clf.classes_.tolist()) == sorted(set(labels))
    predictions = clf.predict(texts)
    assert all(label in set(labels) for label in predictions.tolist())
