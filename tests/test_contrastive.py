"""The few-shot path: the contrastive objective (loss, batch order, switch, head) and averaging."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from sklearn.linear_model import LogisticRegression

from sklearn_tsft import TokenSparseClassifier
from sklearn_tsft.contrastive import (
    GROUP_SIZE,
    MAX_TEXTS_PER_CLASS,
    TEMPERATURE,
    ClassGroupedOrder,
    resolve_objective,
    supervised_contrastive_loss,
)
from sklearn_tsft.head_init import start_at_logistic_regression

from .helpers import fit_recording, make_texts

CLASSES = ("card", "refund", "transfer")


def test_loss_has_its_closed_form_on_two_orthogonal_pairs():
    # Each text: its twin at cosine 1, the other pair at cosine 0, so the
    # loss is -log(e^(1/t) / (e^(1/t) + 2)).
    embeddings = torch.tensor([[2.0, 0], [1, 0], [0, 3], [0, 1]])
    losses = supervised_contrastive_loss(embeddings, torch.tensor([0, 0, 1, 1]))
    expected = np.log1p(2 * np.exp(-1 / TEMPERATURE))
    np.testing.assert_allclose(losses.numpy(), expected, rtol=1e-3)  # float32 sums


def test_loss_is_zero_without_positives_and_grows_when_classes_mix():
    embeddings = torch.tensor([[1.0, 0], [0, 1], [1, 0.1]])
    assert supervised_contrastive_loss(embeddings, torch.tensor([0, 1, 2])).eq(0).all()
    apart = supervised_contrastive_loss(embeddings, torch.tensor([0, 1, 0]))
    mixed = supervised_contrastive_loss(embeddings, torch.tensor([0, 0, 1]))
    assert apart.sum() < mixed.sum()


def test_grouped_order_is_a_permutation_in_groups_of_one_class():
    labels = np.repeat([0, 1, 2], [9, 4, 6])
    order = list(ClassGroupedOrder(labels, torch.Generator().manual_seed(0)))
    assert sorted(order) == list(range(len(labels)))
    # Cut where the class changes: every run is a whole number of groups,
    # of GROUP_SIZE texts except each class's last.
    runs = np.split(np.array(order), np.flatnonzero(np.diff(labels[order])) + 1)
    sizes = [len(run) for run in runs]
    assert sum(size % GROUP_SIZE != 0 for size in sizes) <= 3
    again = list(ClassGroupedOrder(labels, torch.Generator().manual_seed(0)))
    assert again == order


@pytest.mark.parametrize("per_class, expected", [
    (MAX_TEXTS_PER_CLASS, "contrastive"), (MAX_TEXTS_PER_CLASS + 1, "cross_entropy")])
def test_auto_switches_at_the_documented_texts_per_class(per_class, expected):
    labels = np.repeat([0, 1, 2], [per_class, per_class, 200])  # the median class decides
    assert resolve_objective("auto", labels) == expected
    assert resolve_objective("auto", labels, possible=False) == "cross_entropy"
    assert resolve_objective("contrastive", np.repeat([0, 1], 500)) == "contrastive"


@pytest.mark.parametrize("n_classes", [2, 3])
def test_head_equals_the_logistic_regression(n_classes):
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(30, 5))
    labels = np.arange(30) % n_classes
    head = torch.nn.Linear(5, n_classes).double()
    start_at_logistic_regression(head, embeddings, labels)
    expected = LogisticRegression(max_iter=1000).fit(embeddings, labels).predict_proba(embeddings)
    with torch.no_grad():
        got = head(torch.as_tensor(embeddings)).softmax(dim=1).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-10)


def _separation(clf, texts, labels):
    """Mean cosine of same-class pairs minus that of different-class pairs."""
    _, embeddings = clf._logits_and_embeddings(texts)
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    cosine = unit @ unit.T
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    return cosine[same & off_diagonal].mean() - cosine[~same].mean()


@pytest.mark.parametrize("strategy", ["token_sparse", "full"])
def test_contrastive_fit_gathers_classes_and_classifies(tiny_params, strategy):
    texts, labels = make_texts(8, classes=CLASSES)
    params = {**tiny_params, "strategy": strategy, "max_epochs": 20}
    # lr=1e-12 leaves the backbone as it was pretrained: the baseline.
    untrained = TokenSparseClassifier(**params, objective="contrastive", lr=1e-12)
    # The tiny backbone is random: it needs a larger step than a pretrained one.
    trained = TokenSparseClassifier(**params, objective="contrastive", lr=1e-2)
    untrained.fit(texts, labels)
    trained.fit(texts, labels)
    assert trained.objective_ == "contrastive"
    assert _separation(trained, texts, labels) > _separation(untrained, texts, labels) + 0.5
    assert trained.score(texts, labels) > untrained.score(texts, labels)
    np.testing.assert_allclose(trained.predict_proba(texts).sum(axis=1), 1, rtol=1e-6)


class RecordDropout(Callback):
    """The dropout rates in the encoder as each training step begins."""

    def __init__(self):
        self.rates = set()

    def on_batch_begin(self, net, training=None, **kwargs):
        if training:
            self.rates.update(m.p for m in net.module_.encoder.modules()
                              if isinstance(m, torch.nn.Dropout))


@pytest.mark.parametrize("strategy", ["token_sparse", "full", "lora"])
@pytest.mark.parametrize("objective, expected", [("contrastive", {0.0}),
                                                 ("cross_entropy", {0.1})])
def test_only_the_contrastive_objective_trains_without_dropout(tiny_params, strategy,
                                                               objective, expected):
    texts, labels = make_texts(5)
    record = RecordDropout()
    clf = TokenSparseClassifier(**{**tiny_params, "strategy": strategy}, objective=objective)
    fit_recording(clf, texts, labels, record)
    # The tiny BERT's config sets 0.1 for the hidden states and the attention,
    # as lora_dropout's default does for the adapters.
    assert record.rates == expected


def test_auto_picks_contrastive_for_few_texts_per_class_and_persists(tiny_params, tmp_path):
    texts, labels = make_texts(5)
    clf = TokenSparseClassifier(**tiny_params).fit(texts, labels)
    assert clf.objective_ == "contrastive"
    clf.save(tmp_path / "model")
    loaded = TokenSparseClassifier.load(tmp_path / "model")
    assert loaded.objective_ == "contrastive"
    np.testing.assert_array_equal(loaded.predict_proba(texts), clf.predict_proba(texts))


def test_multilabel_and_head_only_fits_train_cross_entropy(tiny_params):
    texts, labels = make_texts(5)
    indicator = np.stack([labels == "card", labels == "refund"], axis=1).astype(int)
    assert TokenSparseClassifier(**tiny_params).fit(texts, indicator).objective_ == "cross_entropy"
    head_only = TokenSparseClassifier(**tiny_params, strategy="head").fit(texts, labels)
    assert head_only.objective_ == "cross_entropy"


@pytest.mark.parametrize("params, match", [
    ({"strategy": "head"}, "another strategy"),
    ({"accelerate": True, "device": "auto"}, "accelerate=False"),
])
def test_contrastive_refuses_what_it_cannot_train(tiny_params, params, match):
    texts, labels = make_texts(5)
    clf = TokenSparseClassifier(**{**tiny_params, **params}, objective="contrastive")
    with pytest.raises(ValueError, match=match):
        clf.fit(texts, labels)


def test_contrastive_refuses_multilabel_targets(tiny_params):
    texts, labels = make_texts(5)
    indicator = np.stack([labels == "card", labels == "refund"], axis=1).astype(int)
    clf = TokenSparseClassifier(**tiny_params, objective="contrastive")
    with pytest.raises(ValueError, match="one label per text"):
        clf.fit(texts, indicator)
    assert not hasattr(clf, "classes_")


def test_average_ends_at_the_mean_of_the_averaged_iterates(tiny_params):
    texts, labels = make_texts(20)
    # Cross-entropy, so that the head trains and its iterates can be read.
    clf = TokenSparseClassifier(**{**tiny_params, "strategy": "full"}, average=True,
                                objective="cross_entropy")
    iterates = []

    class Record(Callback):
        def on_batch_end(self, net, training=None, **kwargs):
            if training:
                iterates.append(net.module_.head.weight.detach().clone())

    fit_recording(clf, texts, labels, Record())
    start = clf._average_from(len(iterates))
    expected = torch.stack(iterates[start - 1:]).mean(dim=0)
    torch.testing.assert_close(clf.module_.head.weight, expected)
    assert not torch.equal(expected, iterates[-1])


def test_chunks_combined_by_max_train_cross_entropy(tiny_params):
    texts, labels = make_texts(5)
    params = {**tiny_params, "long_text": "chunk", "chunk_pooling": "max", "max_length": 8,
              "stride": 2}
    assert TokenSparseClassifier(**params).fit(texts, labels).objective_ == "cross_entropy"
    with pytest.raises(ValueError, match="chunk_pooling='mean'"):
        TokenSparseClassifier(**params, objective="contrastive").fit(texts, labels)


class RecordTrainingView(Callback):
    """The type of the module the net trains when training ends."""

    def on_train_end(self, net, **kwargs):
        self.view = type(net.module_).__name__


@pytest.mark.parametrize("long_text", [{}, {"long_text": "chunk", "max_length": 8, "stride": 2}])
def test_contrastive_head_is_the_regression_on_the_final_embeddings(tiny_params, long_text):
    # The head's embeddings come from the training view's cache of
    # frozen-block states: they must be those of the finished model.
    texts, labels = make_texts(8, classes=CLASSES)
    clf = TokenSparseClassifier(**{**tiny_params, **long_text, "max_epochs": 20},
                                objective="contrastive", lr=1e-2)
    recorder = RecordTrainingView()
    fit_recording(clf, texts, labels, recorder)
    assert recorder.view == "FrozenBlockCache"  # the depth schedule narrowed
    _, embeddings = clf._logits_and_embeddings(texts)
    expected = LogisticRegression(max_iter=1000).fit(embeddings, labels)
    np.testing.assert_allclose(clf.predict_proba(texts), expected.predict_proba(embeddings),
                               atol=1e-4)
