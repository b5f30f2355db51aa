"""Behaviour of TokenSparseClassifier as a scikit-learn classifier (tiny backbone)."""

import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline

from sklearn_tsft import TokenSparseClassifier

from .helpers import block_import, make_texts


@pytest.fixture(scope="module")
def fitted(tiny_backbone, toy_data):
    texts, labels = toy_data
    clf = TokenSparseClassifier(
        tiny_backbone, max_epochs=4, batch_size=8, head_lr=1e-1,
        random_state=0, device="cpu",
    )
    return clf.fit(texts, labels)


def test_fit_returns_self_and_sets_fitted_attributes(tiny_params, toy_data):
    clf = TokenSparseClassifier(**tiny_params)
    assert clf.fit(*toy_data) is clf
    assert list(clf.classes_) == ["card", "refund"]
    assert clf.n_classes_ == 2
    assert clf.backbone_name_ == Path(tiny_params["model"]).name  # a name, not a path
    assert len(clf.history_) == tiny_params["max_epochs"]
    assert 0 < clf.trainable_fraction_ <= clf.sparsity
    assert clf.task_tokens_ and clf.selection_summary_


@pytest.mark.parametrize("n_texts, batch_size, epochs", [(6, 8, 100), (40, 8, 20), (400, 8, 3)])
def test_auto_epochs_give_small_data_at_least_100_steps(n_texts, batch_size, epochs):
    from sklearn_tsft.training import resolve_max_epochs

    assert resolve_max_epochs("auto", n_texts, batch_size) == epochs
    assert resolve_max_epochs(2, n_texts, batch_size) == 2


def test_auto_epochs_are_what_a_fit_runs(tiny_params):
    texts, labels = make_texts(3)
    params = dict(tiny_params, max_epochs="auto", strategy="head")
    clf = TokenSparseClassifier(**params).fit(texts, labels)
    assert TokenSparseClassifier().max_epochs == "auto"
    assert len(clf.history_) == 100  # 6 texts, one step a pass


def test_full_strategy_trains_everything(tiny_params, toy_data):
    clf = TokenSparseClassifier(strategy="full", **tiny_params).fit(*toy_data)
    assert clf.trainable_fraction_ == 1.0
    assert clf.n_trainable_params_ == sum(p.numel() for p in clf.module_.parameters())


def test_full_finetuning_learns_the_toy_task(tiny_params, toy_data):
    # token_sparse learning is tested in test_token_sparse.py
    clf = TokenSparseClassifier(strategy="full", lr=1e-3, **tiny_params).fit(*toy_data)
    held_out, held_out_labels = make_texts(10, seed=1)
    assert clf.score(held_out, held_out_labels) >= 0.9


def test_head_strategy_trains_only_the_head(tiny_params, toy_data):
    clf = TokenSparseClassifier(strategy="head", **tiny_params).fit(*toy_data)
    pretrained = TokenSparseClassifier(**tiny_params)  # loads the same backbone
    from sklearn_tsft.backbone import load_backbone

    _, encoder, _ = load_backbone(pretrained.model)
    for name, param in encoder.state_dict().items():
        assert torch.equal(param, clf.module_.encoder.state_dict()[name]), name
    assert clf.trainable_fraction_ == 0.0
    assert clf.n_trainable_params_ == sum(p.numel() for p in clf.module_.head.parameters())


def test_predict_proba_rows_sum_to_one_and_follow_classes(fitted, toy_data):
    texts, _ = toy_data
    proba = fitted.predict_proba(texts)
    assert proba.shape == (len(texts), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(fitted.classes_[proba.argmax(axis=1)], fitted.predict(texts))
    np.testing.assert_allclose(np.exp(fitted.predict_log_proba(texts)), proba)


def test_binary_decision_function_is_one_column(fitted, toy_data):
    texts, _ = toy_data
    scores = fitted.decision_function(texts)
    assert scores.shape == (len(texts),)
    np.testing.assert_array_equal(fitted.classes_[(scores > 0).astype(int)], fitted.predict(texts))


def test_multiclass_with_int_and_bool_labels(tiny_params):
    texts, labels = make_texts(8, classes=("card", "refund", "transfer"))
    as_int = np.searchsorted(["card", "refund", "transfer"], labels)
    clf = TokenSparseClassifier(**tiny_params).fit(texts, as_int)
    assert clf.classes_.tolist() == [0, 1, 2]
    assert clf.predict(texts).dtype == clf.classes_.dtype
    assert clf.predict_proba(texts).shape == (len(texts), 3)
    bools = labels == "card"
    clf = TokenSparseClassifier(**tiny_params).fit(texts, bools)
    assert clf.classes_.tolist() == [False, True]
    assert clf.predict(texts).dtype == bool


@pytest.mark.parametrize(
    "wrap",
    [list, tuple, np.array, pd.Series, lambda t: np.array(t).reshape(-1, 1),
     lambda t: pd.DataFrame({"text": t})],
    ids=["list", "tuple", "ndarray", "series", "2d-array", "dataframe"],
)
def test_accepts_every_documented_input_container(fitted, toy_data, wrap):
    texts, _ = toy_data
    np.testing.assert_array_equal(fitted.predict(wrap(texts)), fitted.predict(texts))


def test_clone_is_unfitted_and_equal(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    with pytest.raises(NotFittedError):
        copy.predict(["anything"])


def test_not_fitted_error_before_fit():
    with pytest.raises(NotFittedError):
        TokenSparseClassifier().predict_proba(["text"])


def test_init_stores_parameters_only():
    clf = TokenSparseClassifier(max_epochs=7, lr=0.5)
    assert not [name for name in vars(clf) if name.endswith("_")]
    assert clf.get_params()["max_epochs"] == 7 and clf.lr == 0.5


def test_same_random_state_gives_same_predictions(tiny_params, toy_data):
    first = TokenSparseClassifier(**tiny_params).fit(*toy_data)
    second = TokenSparseClassifier(**tiny_params).fit(*toy_data)
    texts, _ = toy_data
    np.testing.assert_array_equal(first.predict_proba(texts), second.predict_proba(texts))


def test_fit_leaves_global_torch_rng_alone(tiny_params, toy_data):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    TokenSparseClassifier(**tiny_params).fit(*toy_data)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("rows", ["subset", "reordered"])
def test_predictions_on_a_subset_or_reordering_match_the_whole_batch(fitted, toy_data, rows):
    texts, _ = toy_data
    whole = fitted.predict_proba(texts)
    picked = [3, 0, 7] if rows == "subset" else np.random.default_rng(0).permutation(len(texts))
    np.testing.assert_allclose(fitted.predict_proba([texts[i] for i in picked]), whole[picked],
                               atol=1e-5)


def test_predict_neither_moves_nor_switches_a_module_already_on_its_device(fitted, monkeypatch):
    # Walking the module tree cost MiniLM about 7 ms of a 28 ms one-text prediction.
    def walk(*args, **kwargs):
        raise AssertionError("predict walked the module tree")

    monkeypatch.setattr(fitted.module_, "to", walk)
    monkeypatch.setattr(fitted.module_, "train", walk)
    assert fitted.predict(["card"]).shape == (1,)


@pytest.mark.parametrize("submodule", ["", "dropout", "encoder"])
def test_predict_runs_in_eval_mode_and_puts_the_mode_back(fitted, toy_data, submodule):
    texts, _ = toy_data
    expected = fitted.predict_proba(texts)
    training = fitted.module_.get_submodule(submodule).train()
    try:
        np.testing.assert_array_equal(fitted.predict_proba(texts), expected)
        assert training.training == (submodule == "")
    finally:
        fitted.module_.eval()


@pytest.mark.parametrize("dumps,loads", [(pickle.dumps, pickle.loads), ("joblib", "joblib")])
def test_pickle_and_joblib_round_trip(fitted, toy_data, tmp_path, dumps, loads):
    texts, _ = toy_data
    if dumps == "joblib":
        joblib.dump(fitted, tmp_path / "clf.joblib")
        restored = joblib.load(tmp_path / "clf.joblib")
    else:
        restored = loads(dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(texts), fitted.predict_proba(texts))


def test_sample_weight_is_honoured(tiny_params, toy_data):
    texts, labels = toy_data
    # Texts of "refund" that weigh nothing teach nothing: the model says "card".
    weights = np.where(labels == "refund", 0.0, 1.0)
    clf = TokenSparseClassifier(**tiny_params).fit(texts, labels, sample_weight=weights)
    assert (clf.predict(texts) == "card").all()


def test_class_weight_is_honoured(tiny_params, toy_data):
    texts, labels = toy_data
    clf = TokenSparseClassifier(class_weight={"card": 0.0, "refund": 1.0}, **tiny_params)
    assert (clf.fit(texts, labels).predict(texts) == "refund").all()


def test_validation_split_and_early_stopping_fill_history(tiny_params, toy_data):
    # valid_acc needs the head's logits, which the contrastive objective trains without.
    params = dict(tiny_params, max_epochs=4, objective="cross_entropy")
    clf = TokenSparseClassifier(validation_fraction=0.25, early_stopping=1, **params)
    clf.fit(*toy_data)
    assert 1 <= len(clf.history_) <= 4
    assert {"valid_loss", "valid_acc", "train_loss"} <= set(clf.history_[-1])


def test_interrupted_fit_leaves_the_estimator_unfitted(tiny_params, toy_data, monkeypatch):
    clf = TokenSparseClassifier(**tiny_params).fit(*toy_data)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("sklearn_tsft.training.TextClassifierNet.train_step", interrupt)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(*toy_data)
    with pytest.raises(NotFittedError):
        clf.predict(["my card"])


def test_verbose_zero_is_silent(tiny_params, toy_data, capsys):
    TokenSparseClassifier(**tiny_params).fit(*toy_data).predict(["my card"])
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_1_shows_the_losses_on_the_bar_and_2_prints_the_epoch_table(
        tiny_params, toy_data, capsys):
    TokenSparseClassifier(verbose=1, **tiny_params).fit(*toy_data)
    captured = capsys.readouterr()
    assert captured.out == "" and "train_loss=" in captured.err
    TokenSparseClassifier(verbose=2, **tiny_params).fit(*toy_data)
    assert "train_loss" in capsys.readouterr().out


# --- scikit-learn integration ---------------------------------------------


def test_pipeline_with_nested_params(tiny_params, toy_data):
    pipe = Pipeline([("clf", TokenSparseClassifier(**tiny_params))])
    pipe.set_params(clf__max_epochs=2)
    assert pipe.get_params()["clf__max_epochs"] == 2
    texts, labels = toy_data
    assert pipe.fit(texts, labels).predict(texts).shape == (len(texts),)


def test_column_transformer_hands_on_one_text_column(tiny_params, toy_data):
    texts, labels = toy_data
    frame = pd.DataFrame({"text": texts, "length": [len(t) for t in texts]})
    pipe = Pipeline([
        ("select", ColumnTransformer([("text", "passthrough", ["text"])])),
        ("clf", TokenSparseClassifier(strategy="full", lr=1e-3, **tiny_params)),
    ])
    assert pipe.fit(frame, labels).score(frame, labels) >= 0.8


def test_grid_search_over_two_values(tiny_params, toy_data):
    search = GridSearchCV(TokenSparseClassifier(**tiny_params), {"strategy": ["full", "head"]}, cv=2)
    search.fit(*toy_data)
    assert len(search.cv_results_["mean_test_score"]) == 2
    assert search.best_params_["strategy"] in ("full", "head")


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_cross_val_score(tiny_params, toy_data, n_jobs):
    scores = cross_val_score(TokenSparseClassifier(**tiny_params), *toy_data, cv=2, n_jobs=n_jobs)
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


# --- the baseline strategies ----------------------------------------------


def changed_parameters(clf, tiny_backbone):
    from sklearn_tsft.backbone import load_backbone

    _, pretrained, _ = load_backbone(tiny_backbone)
    after = clf.module_.encoder.state_dict()
    return {name for name, value in pretrained.state_dict().items()
            if not torch.equal(value, after[name])}


def test_bitfit_changes_only_biases(tiny_params, toy_data):
    clf = TokenSparseClassifier(strategy="bitfit", **tiny_params).fit(*toy_data)
    changed = changed_parameters(clf, tiny_params["model"])
    assert changed and all(name.endswith("bias") for name in changed)
    n_biases = sum(p.numel() for n, p in clf.module_.encoder.named_parameters() if n.endswith("bias"))
    n_head = sum(p.numel() for p in clf.module_.head.parameters())
    assert clf.n_trainable_params_ == n_biases + n_head


def test_layers_changes_only_the_top_blocks(tiny_params, toy_data):
    clf = TokenSparseClassifier(strategy="layers", n_layers=1, **tiny_params).fit(*toy_data)
    changed = changed_parameters(clf, tiny_params["model"])
    assert changed and all(name.startswith("encoder.layer.1.") for name in changed)
    every_block = TokenSparseClassifier(strategy="layers", n_layers=None, **tiny_params)
    changed = changed_parameters(every_block.fit(*toy_data), tiny_params["model"])
    assert {name.split(".")[2] for name in changed} == {"0", "1"}  # no embeddings
    assert every_block.trainable_fraction_ > clf.trainable_fraction_


def test_grid_search_over_every_strategy(tiny_params, toy_data):
    pytest.importorskip("peft")
    strategies = ["token_sparse", "full", "head", "bitfit", "layers", "lora", "prefix"]
    params = dict(tiny_params, max_epochs=1)
    search = GridSearchCV(TokenSparseClassifier(**params), {"strategy": strategies}, cv=2)
    search.fit(*toy_data)
    assert list(search.cv_results_["param_strategy"]) == strategies


def test_lora_is_merged_back_into_the_backbone(tiny_params, toy_data):
    pytest.importorskip("peft")
    clf = TokenSparseClassifier(strategy="lora", lora_r=2, **tiny_params).fit(*toy_data)
    from sklearn_tsft.backbone import load_backbone

    _, pretrained, _ = load_backbone(tiny_params["model"])
    after = clf.module_.encoder.state_dict()
    assert {k: v.shape for k, v in after.items()} == {
        k: v.shape for k, v in pretrained.state_dict().items()}
    changed = changed_parameters(clf, tiny_params["model"])
    assert changed and all(name.rsplit(".", 2)[-2] in ("query", "value") for name in changed)
    assert 0 < clf.trainable_fraction_ < 0.01


def test_lora_without_peft_names_the_extra(tiny_params, toy_data, monkeypatch):
    block_import(monkeypatch, "peft")
    for strategy in ("lora", "prefix"):
        with pytest.raises(ImportError, match=rf"strategy='{strategy}' needs the peft library: "
                                              r"pip install 'sklearn-tsft\[peft\]'"):
            TokenSparseClassifier(strategy=strategy, **tiny_params).fit(*toy_data)


def test_bad_lora_rank(tiny_params, toy_data):
    with pytest.raises(ValueError, match="lora_r == 0, must be >= 1"):
        TokenSparseClassifier(strategy="lora", lora_r=0, **tiny_params).fit(*toy_data)


def test_prefix_trains_only_the_prefix_and_the_head(tiny_params, toy_data):
    pytest.importorskip("peft")
    clf = TokenSparseClassifier(strategy="prefix", num_virtual_tokens=3, **tiny_params)
    clf.fit(*toy_data)
    from sklearn_tsft.backbone import load_backbone

    _, pretrained, _ = load_backbone(tiny_params["model"])
    encoder = clf.module_.encoder
    assert all(torch.equal(value, encoder.get_base_model().state_dict()[name])
               for name, value in pretrained.state_dict().items())
    config = pretrained.config
    # One key and one value vector per virtual token, layer and hidden unit.
    n_prefix = 3 * config.num_hidden_layers * 2 * config.hidden_size
    n_head = sum(p.numel() for p in clf.module_.head.parameters())
    assert clf.n_trainable_params_ == n_prefix + n_head
    assert clf.trainable_fraction_ == pytest.approx(
        n_prefix / sum(p.numel() for p in pretrained.parameters()))
    assert (clf.predict(toy_data[0]) == toy_data[1]).mean() >= 0.75
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(toy_data[0]), clf.predict_proba(toy_data[0]))


def test_bad_num_virtual_tokens(tiny_params, toy_data):
    with pytest.raises(ValueError, match="num_virtual_tokens == 0, must be >= 1"):
        TokenSparseClassifier(strategy="prefix", num_virtual_tokens=0, **tiny_params).fit(*toy_data)


def test_accelerate_on_one_cpu_process_trains_the_same_model(tiny_params, toy_data, capsys):
    pytest.importorskip("accelerate")
    # n_layers="auto" narrows mid-training only without Accelerate, and objective="auto"
    # is contrastive only without it; None and cross-entropy are the same in both.
    params = {**tiny_params, "device": "auto", "n_layers": None, "objective": "cross_entropy"}
    plain = TokenSparseClassifier(**{**params, "device": "cpu"}).fit(*toy_data)
    accelerated = TokenSparseClassifier(accelerate=True, **params).fit(*toy_data)
    assert capsys.readouterr().out == ""  # verbose=0 stays silent
    assert type(accelerated.module_) is type(plain.module_)
    np.testing.assert_allclose(accelerated.predict_proba(toy_data[0]),
                               plain.predict_proba(toy_data[0]), atol=1e-6)
    pickle.loads(pickle.dumps(accelerated))


def test_accelerate_leaves_the_device_to_accelerate(tiny_params, toy_data):
    with pytest.raises(ValueError, match="accelerate=True takes the device from Accelerate"):
        TokenSparseClassifier(accelerate=True, **tiny_params).fit(*toy_data)


def test_batch_losses_are_recorded_once_per_epoch_as_live(tiny_params, toy_data):
    deferred = TokenSparseClassifier(**tiny_params).fit(*toy_data).history_
    live = TokenSparseClassifier(**{**tiny_params, "verbose": 1}).fit(*toy_data).history_
    losses = deferred[:, "batches", :, "train_loss"]
    assert all(isinstance(loss, float) for epoch in losses for loss in epoch)
    assert losses == live[:, "batches", :, "train_loss"]
    assert deferred[:, "train_loss"] == live[:, "train_loss"]
    assert deferred[:, "batches", :, "train_batch_size"][0] == [8, 8, 8, 8, 8]


@pytest.mark.parametrize(
    "strategy", ["token_sparse", "full", "head", "bitfit", "layers", "lora", "prefix"])
def test_head_lr_reaches_the_optimizer_in_every_strategy(tiny_params, toy_data, strategy,
                                                         monkeypatch):
    # token_sparse and layers train through a cache of the frozen lower
    # blocks; its parameter names must still put the head in head_lr's group.
    if strategy in ("lora", "prefix"):
        pytest.importorskip("peft")
    groups = []

    class RecordingAdamW(torch.optim.AdamW):
        def __init__(self, params, **kwargs):
            super().__init__(params, **kwargs)
            groups.extend((group["lr"], set(map(id, group["params"])))
                          for group in self.param_groups)

    monkeypatch.setattr(torch.optim, "AdamW", RecordingAdamW)
    # Cross-entropy: the contrastive objective fits the head after training.
    clf = TokenSparseClassifier(strategy=strategy, objective="cross_entropy",
                                **dict(tiny_params, max_epochs=1, head_lr=0.123, lr=0.001))
    clf.fit(*toy_data)
    head = set(map(id, clf.module_.head.parameters()))
    assert [(lr, len(params)) for lr, params in groups if params & head] == [(0.123, len(head))]
    assert all(lr == 0.001 for lr, params in groups if not params & head)


def test_auto_lr_of_token_sparse_shrinks_with_the_encoder_width(tiny_params, toy_data,
                                                               monkeypatch):
    from sklearn_tsft.strategies import token_sparse

    rates = []

    class RecordingAdamW(torch.optim.AdamW):
        def __init__(self, params, **kwargs):
            super().__init__(params, **kwargs)
            rates.append(kwargs["lr"])

    monkeypatch.setattr(torch.optim, "AdamW", RecordingAdamW)
    params = dict(tiny_params, max_epochs=1, objective="cross_entropy")
    TokenSparseClassifier(**params).fit(*toy_data)
    # The tiny backbone is 32 wide; as if the rate had been tuned at 8 wide.
    monkeypatch.setattr(token_sparse, "REFERENCE_WIDTH", 8)
    TokenSparseClassifier(**params).fit(*toy_data)
    TokenSparseClassifier(**params, lr=0.003).fit(*toy_data)
    assert rates == [pytest.approx(1e-3), pytest.approx(5e-4), 0.003]


def test_head_starts_at_the_class_prototypes(tiny_params, toy_data):
    from sklearn_tsft.head_init import start_at_prototypes

    head = torch.nn.Linear(2, 2)
    embeddings = np.array([[0.0, 1.0], [0.2, 1.0], [1.0, 0.0], [1.0, 0.2]])
    start_at_prototypes(head, embeddings, np.array([0, 0, 1, 1]), 2)
    weight, bias = head.weight.detach().numpy(), head.bias.detach().numpy()
    # Proportional to the class means less their mean, with bias -|m|^2/2 on the same scale.
    scale = weight[0, 1] / 0.45
    np.testing.assert_allclose(weight, scale * np.array([[-0.45, 0.45], [0.45, -0.45]]),
                               rtol=1e-5)
    np.testing.assert_allclose(bias, -0.5 * scale * np.array([1.01, 1.01]), rtol=1e-5)
    # At least as long as a random start's rows (1/sqrt(3)).
    assert np.linalg.norm(weight, axis=1).min() >= 1 / np.sqrt(3) - 1e-6
    assert (np.argmax(embeddings @ weight.T + bias, axis=1) == [0, 0, 1, 1]).all()


def test_a_prototype_head_classifies_before_any_training(tiny_params, toy_data):
    # One epoch at a learning rate of almost zero: the head is where it started.
    params = dict(tiny_params, max_epochs=1, lr=1e-12, head_lr=1e-12, strategy="head")
    started = TokenSparseClassifier(**params, head_init="prototypes").fit(*toy_data).score(*toy_data)
    unstarted = TokenSparseClassifier(**params).fit(*toy_data).score(*toy_data)
    assert started >= 0.9 > unstarted


def test_transform_gives_unit_embeddings_that_the_head_classifies(fitted, toy_data):
    texts = toy_data[0]
    embeddings = fitted.transform(texts)
    assert embeddings.shape == (len(texts), 32)  # the tiny backbone's hidden size
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-6)
    names = fitted.get_feature_names_out()
    assert list(names[:2]) == ["tokensparseclassifier0", "tokensparseclassifier1"]
    assert len(names) == embeddings.shape[1]
    # Unnormalised, the same features give the head's logits.
    head = fitted.module_.head
    raw = fitted._logits_and_embeddings(texts)[1]
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), embeddings)
    logits = head(torch.as_tensor(raw, dtype=torch.float32)).detach().numpy()
    np.testing.assert_allclose(logits / fitted.temperature_, fitted._logits(texts), atol=1e-5)


def test_transform_needs_a_fit_and_feeds_a_pipeline(tiny_params, toy_data):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(NotFittedError):
        TokenSparseClassifier(**tiny_params).transform(["a text"])
    pipe = Pipeline([("embed", TokenSparseClassifier(**tiny_params)),
                     ("lr", LogisticRegression())]).fit(*toy_data)
    assert pipe.predict(toy_data[0]).shape == (len(toy_data[0]),)
    assert pipe.named_steps["lr"].n_features_in_ == 32


def test_user_callbacks_record_into_history_and_stay_unused(tiny_params, toy_data, tmp_path):
    from skorch.callbacks import EpochScoring

    train_accuracy = EpochScoring("accuracy", on_train=True, name="train_acc",
                                  lower_is_better=False)
    clf = TokenSparseClassifier(**tiny_params, objective="cross_entropy",
                                callbacks=[train_accuracy,
                                           ("f1", EpochScoring("f1_macro", name="valid_f1"))],
                                validation_fraction=0.25).fit(*toy_data)
    scores = clf.history_[:, "train_acc"]
    assert len(scores) == tiny_params["max_epochs"] and all(0 <= s <= 1 for s in scores)
    assert len(clf.history_[:, "valid_f1"]) == tiny_params["max_epochs"]
    assert not hasattr(train_accuracy, "best_score_")  # each fit trains with a copy
    assert clone(clf).callbacks[0] is not train_accuracy
    clf.save(tmp_path / "model")  # callbacks act in training only: not saved
    assert TokenSparseClassifier.load(tmp_path / "model").callbacks is None


def test_fit_transform_is_fit_then_transform(tiny_params, toy_data):
    texts, labels = toy_data
    clf = TokenSparseClassifier(**tiny_params)
    np.testing.assert_allclose(clf.fit_transform(texts, labels),
                               clone(clf).fit(texts, labels).transform(texts), atol=1e-6)
