"""Out-of-scope detection: score_samples and predict's unknown label (tiny backbone)."""

import copy

import numpy as np
import pytest

from sklearn_tsft import TokenSparseClassifier

from .helpers import make_texts

CLASSES = ("card", "refund", "transfer")
# Words the tiny backbone never saw in training texts.
UNSEEN = ["weather sunny tomorrow afternoon", "guitar concert tickets tonight",
          "recipe for lemon cake", "football match score yesterday"] * 3


PARAMS = dict(max_epochs=6, batch_size=8, head_lr=1e-1, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def scoped(tiny_backbone):
    texts, labels = make_texts(20, classes=CLASSES)
    params = dict(PARAMS, model=tiny_backbone, strategy="full", lr=3e-3, max_epochs=6, validation_fraction=0.25,
                  unknown_label="none of these", unknown_rate=0.1)
    return TokenSparseClassifier(**params).fit(texts, labels)


@pytest.mark.parametrize("method", ["energy", "max_proba"])
def test_unseen_texts_score_below_training_like_texts(scoped, method):
    clf = copy.deepcopy(scoped).set_params(oos_score=method)
    in_scope, _ = make_texts(10, seed=3, classes=CLASSES)
    assert np.median(clf.score_samples(UNSEEN)) < np.median(clf.score_samples(in_scope))


def test_threshold_rejects_the_asked_share_of_held_out_texts(scoped):
    texts, labels = make_texts(20, classes=CLASSES)
    # The validation split is the fit's own: refit it the same way to find its texts.
    from sklearn.model_selection import train_test_split

    seed = int(np.random.RandomState(PARAMS["random_state"]).randint(
        np.iinfo(np.int32).max))
    _, valid = train_test_split(np.arange(len(texts)), test_size=0.25, random_state=seed,
                                stratify=np.unique(labels, return_inverse=True)[1])
    scores = scoped.score_samples([texts[i] for i in valid])
    assert np.mean(scores < scoped.unknown_threshold_) == pytest.approx(0.1, abs=1 / len(valid))


def test_unknown_label_changes_predict_only_under_the_threshold(scoped):
    in_scope, _ = make_texts(10, seed=3, classes=CLASSES)
    texts = in_scope + UNSEEN
    plain = scoped.classes_[np.argmax(scoped.predict_proba(texts), axis=1)]
    predicted = scoped.predict(texts)
    under = scoped.score_samples(texts) < scoped.unknown_threshold_
    assert under.any() and (~under).any()
    assert (predicted[under] == "none of these").all()
    assert (predicted[~under] == plain[~under]).all()
    assert list(scoped.classes_) == sorted(CLASSES)


def test_scores_and_threshold_survive_save_and_load(scoped, tmp_path):
    scoped.save(tmp_path / "model")
    loaded = TokenSparseClassifier.load(tmp_path / "model")
    assert loaded.unknown_threshold_ == scoped.unknown_threshold_
    assert loaded.unknown_score_ == scoped.unknown_score_ == "energy"
    np.testing.assert_array_equal(loaded.score_samples(UNSEEN), scoped.score_samples(UNSEEN))
    np.testing.assert_array_equal(loaded.predict(UNSEEN), scoped.predict(UNSEEN))


def test_without_unknown_label_nothing_changes(fitted_tiny, toy_data):
    assert fitted_tiny.unknown_threshold_ is None
    assert fitted_tiny.predict(toy_data[0]).dtype == fitted_tiny.classes_.dtype


@pytest.mark.parametrize("params, y, message", [
    (dict(unknown_label="x"), None, "unknown_label sets its threshold on held-out"),
    (dict(unknown_label="card", validation_fraction=0.25), None, "is one of the training labels"),
])
def test_unknown_label_misuse_is_refused(tiny_params, params, y, message):
    texts, labels = make_texts(8)
    with pytest.raises(ValueError, match=message):
        TokenSparseClassifier(**dict(tiny_params, **params)).fit(texts, labels)


def test_a_threshold_is_not_read_on_another_score(scoped):
    clf = copy.deepcopy(scoped).set_params(oos_score="max_proba")
    with pytest.raises(ValueError, match="set with oos_score='energy', but oos_score is now"):
        clf.predict(UNSEEN)
