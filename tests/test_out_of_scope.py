"""Out-of-scope detection: score_samples and predict's unknown label (tiny backbone)."""

import copy

import numpy as np
import pytest

from sklearn_tsft import TokenSparseClassifier
from sklearn_tsft.out_of_scope import ClassGaussians

from .helpers import make_texts

CLASSES = ("card", "refund", "transfer")
# Words the tiny backbone never saw in training texts.
UNSEEN = ["weather sunny tomorrow afternoon", "guitar concert tickets tonight",
          "recipe for lemon cake", "football match score yesterday"] * 3


PARAMS = dict(max_epochs=6, batch_size=8, head_lr=1e-1, random_state=0, device="cpu")


@pytest.fixture(scope="module", params=["energy", "mahalanobis"])
def scoped(tiny_backbone, request):
    texts, labels = make_texts(20, classes=CLASSES)
    params = dict(PARAMS, model=tiny_backbone, strategy="full", lr=3e-3, validation_fraction=0.25,
                  unknown_label="none of these", unknown_rate=0.1, oos_score=request.param)
    return TokenSparseClassifier(**params).fit(texts, labels)


@pytest.mark.parametrize("method", [None, "max_proba"])
def test_unseen_texts_score_below_training_like_texts(scoped, method):
    # Without a threshold to keep consistent, a logit score can be chosen after fit.
    clf = copy.deepcopy(scoped).set_params(unknown_label=None)
    if method is not None:
        clf.set_params(oos_score=method)
    in_scope, _ = make_texts(10, seed=3, classes=CLASSES)
    assert np.median(clf.score_samples(UNSEEN)) < np.median(clf.score_samples(in_scope))


def test_mahalanobis_score_is_minus_the_distance_to_the_nearest_class_mean():
    means = np.array([[0.0, 0.0], [4.0, 0.0]])
    precision = np.diag([1.0, 0.25])
    points = np.array([[1.0, 2.0], [3.0, 0.0], [2.0, 0.0]])
    # (1,2): 1 + 4/4 = 2 to the first mean; (3,0): 1 to the second; (2,0): 4 to either.
    np.testing.assert_allclose(ClassGaussians(means, precision).scores(points), [-2, -1, -4])


def test_class_gaussians_fit_class_means_and_a_shrunk_shared_covariance():
    rng = np.random.RandomState(0)
    classes = np.repeat([0, 1, 2], 4)
    embeddings = rng.normal(size=(12, 30)) + 5 * classes[:, None]
    gaussians = ClassGaussians.fit(embeddings, classes, 3)
    np.testing.assert_allclose(gaussians.means[1], embeddings[4:8].mean(axis=0))
    # Twelve texts in 30 dimensions: the empirical covariance is singular, the shrunk one not.
    assert np.all(np.linalg.eigvalsh(gaussians.precision) > 0)


def test_mahalanobis_needs_its_statistics_from_fit(tiny_params, toy_data):
    clf = TokenSparseClassifier(**dict(tiny_params, max_epochs=1, oos_score="energy"))
    clf.fit(*toy_data)
    assert clf.embedding_means_ is None
    clf.set_params(oos_score="mahalanobis")
    with pytest.raises(ValueError, match="refit with it, or choose oos_score='energy'"):
        clf.score_samples(toy_data[0])


def test_class_gaussians_come_from_the_fitted_embeddings(fitted_tiny, toy_data):
    from sklearn_tsft.backbone import LogitsAndEmbedding

    assert fitted_tiny.oos_score == "mahalanobis"
    texts, labels = toy_data
    # 20 texts per class, under the cap: every training text counts.
    ids = fitted_tiny.tokenizer_.encode([texts[i] for i in np.flatnonzero(labels == "card")])
    from sklearn_tsft.inference import predict_logits

    outputs = predict_logits(LogitsAndEmbedding(fitted_tiny.module_), ids, pad_token_id=0,
                             batch_size=8, device="cpu", precision="fp32")
    np.testing.assert_allclose(fitted_tiny.embedding_means_[0], outputs[:, 2:].mean(axis=0),
                               rtol=1e-4, atol=1e-5)


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
    assert loaded.unknown_score_ == scoped.unknown_score_ == scoped.oos_score
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
    with pytest.raises(ValueError, match=f"set with oos_score={scoped.oos_score!r}, but "
                                         "oos_score is now"):
        clf.predict(UNSEEN)


def test_onnx_backend_gives_the_same_scores(scoped, tmp_path):
    pytest.importorskip("onnxruntime", reason="needs sklearn-tsft[onnx]")
    scoped.save(tmp_path / "model")
    scoped.export_onnx(tmp_path / "model")
    loaded = TokenSparseClassifier.load(tmp_path / "model", backend="onnx")
    np.testing.assert_allclose(loaded.score_samples(UNSEEN), scoped.score_samples(UNSEEN),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(loaded.predict(UNSEEN), scoped.predict(UNSEEN))
