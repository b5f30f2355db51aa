"""Batches of mixed lengths go through the module in groups of similar length (on a CPU)."""

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_tsft._data import CPU_PASS_COST, batch_length_groups, length_groups, pad_batch
from sklearn_tsft.backbone import TextClassifierModule, load_backbone
from sklearn_tsft.strategies.frozen_blocks import FrozenBlockCache
from sklearn_tsft.training import TextClassifierNet

# Four short texts and four long ones: one pass over all eight pads the
# short ones to the long ones' length, so two passes cost less.
SHORT, LONG = 3, 60


def padded_cost(groups, lengths, pass_cost):
    return sum(len(rows) * lengths[rows].max() + pass_cost for rows in groups)


@pytest.mark.parametrize("seed", range(20))
def test_length_groups_partition_the_rows_at_the_least_padded_cost(seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 129, size=rng.integers(1, 40))
    groups = length_groups(lengths, pass_cost=CPU_PASS_COST)
    if groups is None:
        return
    assert sorted(np.concatenate(groups).tolist()) == list(range(len(lengths)))
    one_pass = len(lengths) * lengths.max() + CPU_PASS_COST
    assert padded_cost(groups, lengths, CPU_PASS_COST) < one_pass
    # Contiguous runs of the sorted lengths: no group's texts are shorter
    # than the next group's.
    for longer, shorter in zip(groups, groups[1:]):
        assert lengths[longer].min() >= lengths[shorter].max()


def test_texts_of_one_length_stay_one_pass():
    assert length_groups(np.full(32, 40), pass_cost=CPU_PASS_COST) is None


@pytest.fixture
def batch(tiny_backbone):
    tokenizer, encoder, _ = load_backbone(tiny_backbone)
    rng = np.random.default_rng(0)
    ids = [rng.integers(1000, 2000, size=SHORT if row % 2 else LONG).tolist() for row in range(8)]
    input_ids, attention_mask = pad_batch(ids, tokenizer.pad_token_id)
    assert batch_length_groups(attention_mask) is not None  # the batch is split
    return encoder, input_ids, attention_mask


def test_training_outputs_in_length_groups_are_the_whole_batch_outputs(batch):
    encoder, input_ids, attention_mask = batch
    module = TextClassifierModule(encoder, 3).eval()
    net = TextClassifierNet(module, criterion=nn.CrossEntropyLoss, device="cpu").initialize()
    net.module_.eval()
    x = {"input_ids": input_ids, "attention_mask": attention_mask,
         "sample_weight": torch.ones(8), "example_index": torch.arange(8)}
    with torch.no_grad():
        torch.testing.assert_close(net.infer(x), module(input_ids, attention_mask))


def test_the_frozen_block_cache_fills_in_length_groups_and_gives_the_plain_outputs(batch):
    encoder, input_ids, attention_mask = batch
    module = TextClassifierModule(encoder, 3).eval()
    with torch.no_grad():
        expected = module(input_ids, attention_mask)
        cached = FrozenBlockCache(module, first_trained=1).eval()
        for _ in range(2):  # filled, then served from the cache
            torch.testing.assert_close(
                cached(input_ids, attention_mask, torch.arange(8)), expected)


def test_training_fills_the_cache_in_one_sorted_sweep_before_its_first_step(tiny_backbone):
    from skorch.callbacks import Callback

    from sklearn_tsft import TokenSparseClassifier

    from .helpers import fit_recording, make_texts

    texts, labels = make_texts(12)
    lower_block_runs = []
    after_each_step = []  # (texts cached, lower-block runs so far)

    class Record(Callback):
        def on_train_begin(self, net, **kwargs):
            net.module_.encoder.get_submodule("encoder.layer.0").register_forward_hook(
                lambda *_: lower_block_runs.append(1))

        def on_batch_end(self, net, training=None, **kwargs):
            if training:
                after_each_step.append((len(net.module_._cache), len(lower_block_runs)))

    clf = TokenSparseClassifier(tiny_backbone, strategy="layers", n_layers=1, max_epochs=2,
                                batch_size=8, device="cpu", random_state=0)
    fit_recording(clf, texts, labels, Record())
    n_train = len(texts)
    # Every training text was cached before the first step trained, in
    # batches of texts sorted by length, and the lower block never ran again.
    cached, runs = after_each_step[0]
    assert cached == n_train
    assert runs <= -(-n_train // 8) * 2
    assert all(later == (n_train, runs) for later in after_each_step[1:])
