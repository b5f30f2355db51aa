"""Every bad input gets a clear error before training starts."""

import pickle

import numpy as np
import pytest
import scipy.sparse
import torch
from sklearn.exceptions import NotFittedError

from sklearn_tsft import TokenSparseClassifier

TEXTS = ["my card", "a refund", "card please", "refund me"]
LABELS = ["card", "refund", "card", "refund"]


@pytest.fixture
def clf(tiny_backbone):
    return TokenSparseClassifier(tiny_backbone, max_epochs=1, device="cpu")


@pytest.mark.parametrize(
    "texts,error,message",
    [
        (["ok", None, "ok", "ok"], ValueError, r"X\[1\] is missing"),
        (["ok", "ok", float("nan"), "ok"], ValueError, r"X\[2\] is missing"),
        (["ok", "ok", "ok", 3], TypeError, r"X\[3\] is of type int \(3\), not a string"),
        (["ok", b"bytes", "ok", "ok"], TypeError, r"X\[1\] is of type bytes"),
        ([], ValueError, "X is empty"),
        ("just one string", TypeError, "got a single string"),
        (np.zeros((4, 3)), ValueError, "takes raw texts"),
        (scipy.sparse.csr_matrix(np.eye(4)), TypeError, "sparse matrix"),
        (42, TypeError, "sequence of strings"),
        ({"ok a", "ok b", "ok c", "ok d"}, TypeError, "X is a set, which has no fixed order"),
        (["ok", "bad \udcff", "ok", "ok"], ValueError,
         r"X\[1\] holds '\\udcff' at character 4, a lone surrogate"),
        ({"a": 0, "b": 1, "c": 2, "d": 3}.keys(), TypeError, "X is a dict_keys, which has no"),
    ],
)
def test_bad_texts(clf, texts, error, message):
    labels = [] if isinstance(texts, list) and not texts else LABELS
    with pytest.raises(error, match=message):
        clf.fit(texts, labels)


@pytest.mark.parametrize(
    "labels,error,message",
    [
        (["card", "refund", "card"], ValueError, "different lengths: 4 texts but 3 labels"),
        (["card"] * 4, ValueError, "only one class"),
        (["card", None, "card", "refund"], ValueError, r"y\[1\] is missing"),
        ([0.5, 1.5, 2.5, 3.5], ValueError, "Unknown label type"),
        (["card", 1, "card", 1], TypeError, "mixes label types"),
        (np.zeros((4, 2, 2)), ValueError, "y must be 1-D .* or a 2-D 0/1 indicator matrix"),
        (np.full((4, 2), 2), ValueError, "must be a 0/1 indicator matrix"),
        (None, ValueError, "y is required"),
    ],
)
def test_bad_labels(clf, labels, error, message):
    with pytest.raises(error, match=message):
        clf.fit(TEXTS, labels)


@pytest.mark.parametrize(
    "params,message",
    [
        ({"strategy": "magic"}, "Unknown strategy 'magic'. Choose one of"),
        ({"max_epochs": 0}, "max_epochs == 0, must be >= 1"),
        ({"batch_size": -2}, "batch_size == -2, must be >= 1"),
        ({"max_length": 1}, "max_length == 1, must be >= 2"),
        ({"lr": 0.0}, "lr == 0.0, must be > 0"),
        ({"lr": "fast"}, "lr must be 'auto' or a positive float, got 'fast'"),
        ({"head_lr": -1.0}, "head_lr == -1.0, must be > 0"),
        ({"warmup_ratio": 1.5}, "warmup_ratio == 1.5, must be <= 1"),
        ({"validation_fraction": 1.0}, "validation_fraction == 1.0, must be < 1"),
        ({"early_stopping": 2}, "early_stopping needs held-out data"),
        ({"class_weight": "heavy"}, "class_weight must be None, 'balanced' or a dict"),
        ({"precision": "fp8"}, "precision='fp8' is not one of"),
        ({"device": "quantum"}, "device='quantum' is not a torch device"),
        ({"device": "cuda:99"}, r"device='cuda:99', but torch sees \d+ CUDA device"),
        ({"max_epochs": 2.5}, "max_epochs must be .auto. or a positive int, got 2.5"),
    ],
)
def test_bad_parameters(clf, params, message):
    with pytest.raises((ValueError, TypeError), match=message):
        clf.set_params(**params).fit(TEXTS, LABELS)


def test_missing_model_directory_names_the_fix():
    clf = TokenSparseClassifier("/no/such/model/dir")
    with pytest.raises(ValueError, match="does not exist.*save_pretrained"):
        clf.fit(TEXTS, LABELS)


def test_directory_that_is_not_a_model(tmp_path):
    with pytest.raises(ValueError, match="(?s)Could not load model.*copy the directory"):
        TokenSparseClassifier(str(tmp_path)).fit(TEXTS, LABELS)


def test_model_of_wrong_type():
    with pytest.raises(TypeError, match="model must be 'default', a local directory"):
        TokenSparseClassifier(model=3).fit(TEXTS, LABELS)


def test_failed_fit_leaves_the_estimator_unfitted(tiny_backbone):
    clf = TokenSparseClassifier(tiny_backbone, max_epochs=1, device="cpu").fit(TEXTS, LABELS)
    with pytest.raises(ValueError):
        clf.fit(TEXTS, ["card"] * 4)
    with pytest.raises(NotFittedError):
        clf.predict(TEXTS)


def test_validation_fraction_too_small_for_the_classes(clf):
    with pytest.raises(ValueError, match="cannot split 4 texts of 2 classes"):
        clf.set_params(validation_fraction=0.1).fit(TEXTS, LABELS)


def test_all_zero_sample_weight(clf):
    with pytest.raises(ValueError, match="(?i)sample.weight"):
        clf.fit(TEXTS, LABELS, sample_weight=np.zeros(4))


def test_negative_sample_weight(clf):
    # A negative weight would train the model away from that text's label.
    with pytest.raises(ValueError, match="Negative values in data passed to `?sample_weight"):
        clf.fit(TEXTS, LABELS, sample_weight=[1.0, 2.0, -0.5, 1.0])


def test_predict_checks_texts_too(clf):
    clf.fit(TEXTS, LABELS)
    with pytest.raises(ValueError, match=r"X\[0\] is missing"):
        clf.predict([None])


def test_labels_keep_trailing_nul_characters(clf):
    # numpy's fixed-width strings would turn "\x00" into "", merging two classes.
    labels = ["card", "card\x00", "card", "card\x00"]
    assert clf.fit(TEXTS, labels).classes_.tolist() == ["card", "card\x00"]


BAD_VALUES = {
    "model": 3, "strategy": "magic", "sparsity": 0.0, "n_task_tokens": 0,
    "adaptive_tokenization": "yes", "n_layers": "three", "lora_r": 0, "lora_alpha": 0,
    "lora_dropout": 1.0, "lora_target_modules": 5, "num_virtual_tokens": 0, "max_length": 1,
    "long_text": "split", "stride": -1, "chunk_pooling": "sum", "batch_size": 0,
    "max_epochs": 0, "lr": "fast", "head_lr": float("inf"), "weight_decay": -1.0,
    "warmup_ratio": 1.5, "class_weight": "heavy", "validation_fraction": 1.0,
    "early_stopping": 0, "calibrate": "yes", "threshold": float("nan"), "device": "quantum",
    "accelerate": "yes", "precision": "fp8", "random_state": "seed", "verbose": -1,
    "oos_score": "entropy", "unknown_label": [1], "unknown_rate": 0.0, "pooling": "cls",
    "head_init": "zeros", "objective": "setfit", "average": "yes", "callbacks": ["print"],
    "at_least_one_label": "yes",
}


def test_every_parameter_has_a_bad_value_below():
    assert set(BAD_VALUES) == set(TokenSparseClassifier().get_params())


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_bad_parameter_is_refused_before_the_backbone_loads(name, monkeypatch):
    def load_backbone(*args, **kwargs):
        raise AssertionError("the backbone was loaded before the parameters were checked")

    monkeypatch.setattr("sklearn_tsft.classifier.load_backbone", load_backbone)
    clf = TokenSparseClassifier(**{name: BAD_VALUES[name]})
    with pytest.raises((ValueError, TypeError), match=name):
        clf.fit(TEXTS, LABELS)


def test_bad_parameters_keep_the_previous_fit(clf):
    clf.fit(TEXTS, LABELS)
    with pytest.raises(ValueError, match="max_epochs"):
        clf.set_params(max_epochs=0).fit(TEXTS, LABELS)
    assert clf.predict(TEXTS).shape == (4,)


def test_diverging_training_stops_with_a_clear_error_and_leaves_no_fit(clf):
    clf.fit(TEXTS, LABELS)
    with pytest.raises(ValueError, match="training diverged. Use a smaller lr"):
        clf.set_params(lr=1e6, head_lr=1e6, max_epochs=3).fit(TEXTS * 4, LABELS * 4)
    with pytest.raises(NotFittedError):
        clf.predict(TEXTS)


def test_nan_class_weight_is_refused(clf):
    with pytest.raises(ValueError, match="NaN or infinite weight"):
        clf.set_params(class_weight={"card": float("nan"), "refund": 1.0}).fit(TEXTS, LABELS)


def test_numpy_scalars_are_labels_of_their_python_type(tiny_params, toy_data):
    texts, labels = toy_data
    mixed = [str(label) if i % 2 else np.str_(label) for i, label in enumerate(labels)]
    clf = TokenSparseClassifier(**dict(tiny_params, max_epochs=1)).fit(texts, mixed)
    assert list(clf.classes_) == ["card", "refund"]
    assert all(type(label) is str for label in clf.classes_)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_a_model_set_to_cuda_predicts_on_a_machine_without_one(fitted_tiny, toy_data):
    clf = pickle.loads(pickle.dumps(fitted_tiny)).set_params(device="cuda")
    with pytest.warns(UserWarning, match="device='cuda' is not available here; predicting on"):
        probabilities = clf.predict_proba(toy_data[0])
    np.testing.assert_array_equal(probabilities, fitted_tiny.predict_proba(toy_data[0]))


def test_a_hub_id_out_of_reach_fails_at_once_without_the_hub_client(monkeypatch):
    import socket

    from huggingface_hub import constants

    import sklearn_tsft.backbone as backbone

    def unreachable(*args, **kwargs):
        raise OSError("network is unreachable")

    online = []
    cached_only = backbone._from_pretrained

    def spy(location, local_files_only):
        if not local_files_only:
            online.append(location)
        return cached_only(location, local_files_only)

    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(backbone, "_from_pretrained", spy)
    clf = TokenSparseClassifier("someone/no-such-model", max_epochs=1, device="cpu")
    with pytest.raises(ValueError, match="not in the Hugging Face cache, and .* cannot be "
                                         "reached .*Check the id or path"):
        clf.fit(TEXTS, LABELS)
    assert online == [] and not hasattr(clf, "classes_")
