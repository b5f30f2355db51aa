"""The token_sparse strategy: task tokens, row selection, deltas, guarantees."""

import copy

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV
from torch import nn

from sklearn_tsft import TokenSparseClassifier
from sklearn_tsft.backbone import TextClassifierModule, linear_layers, load_backbone
from sklearn_tsft.strategies.frozen_blocks import FrozenBlockCache
from sklearn_tsft.strategies.token_sparse.sparse_delta import RowDeltaEmbedding, RowDeltaLinear, attach_deltas, merge_deltas
from sklearn_tsft.strategies.token_sparse.task_tokens import (
    discover_task_tokens,
    reserved_slots,
    with_words_in_slots,
)
from sklearn_tsft._data import TextTokenizer

from .helpers import make_texts, save_tiny_bert


@pytest.fixture(scope="module")
def data():
    return make_texts(20, classes=("card", "refund", "transfer"))


def sparse(tiny_backbone, **params):
    defaults = dict(model=tiny_backbone, max_epochs=3, batch_size=8, lr=1e-2, head_lr=1e-1,
                    random_state=0, device="cpu", n_task_tokens=12)
    return TokenSparseClassifier(**{**defaults, **params})


@pytest.fixture(scope="module")
def fitted(tiny_backbone, data):
    return sparse(tiny_backbone, sparsity=0.05, n_layers=None).fit(*data)


def test_token_sparse_is_the_default_strategy():
    assert TokenSparseClassifier().strategy == "token_sparse"


def test_task_tokens_are_the_topic_words(fitted):
    words = [token.word for token in fitted.task_tokens_]
    topic_words = {"card", "arrived", "delivery", "mail", "plastic", "refund", "money", "back",
                   "return", "reimburse", "transfer", "account", "send", "iban", "wire"}
    assert set(words[:10]) <= topic_words
    assert all(token.count >= 3 and token.score > 0 for token in fitted.task_tokens_)
    scores = [token.score for token in fitted.task_tokens_]
    assert scores == sorted(scores, reverse=True)


def test_multi_piece_task_words_take_reserved_slots(fitted, tiny_backbone):
    merged = [token for token in fitted.task_tokens_ if token.slot is not None]
    assert merged and all(len(token.pieces) > 1 for token in merged)
    pretrained, _, _ = load_backbone(tiny_backbone)
    assert all(pretrained.convert_ids_to_tokens(token.slot).startswith("[unused")
               for token in merged)
    word, slot = merged[0].word, merged[0].slot
    assert fitted.tokenizer_.encode([f"please {word}"])[0] == [
        pretrained.cls_token_id, pretrained.convert_tokens_to_ids("please"), slot,
        pretrained.sep_token_id]


def test_words_in_slots_tokenize_as_one_token_and_prefix_longer_words(tiny_backbone):
    tokenizer, _, _ = load_backbone(tiny_backbone)
    assert len(tokenizer.tokenize("reimburse")) > 1
    adapted = with_words_in_slots(tokenizer, {"reimburse": 1})
    assert TextTokenizer(adapted, 64).encode(["reimburse me"])[0][1:-2] == [1]
    assert adapted.convert_ids_to_tokens(adapted("reimbursed")["input_ids"]) == [
        "[CLS]", "reimburse", "##d", "[SEP]"]
    assert tokenizer.tokenize("reimburse") != ["reimburse"]  # the original is untouched


def test_slot_embedding_starts_as_the_mean_of_its_pieces(tiny_backbone, data):
    tokenizer, encoder, _ = load_backbone(tiny_backbone)
    clf = sparse(tiny_backbone, max_epochs=1, lr=1e-12, head_lr=1e-12, sparsity=1e-6)
    clf.fit(*data)
    weights = encoder.get_input_embeddings().weight
    fitted_weights = clf.module_.encoder.get_input_embeddings().weight
    merged = [token for token in clf.task_tokens_ if token.slot is not None]
    assert merged
    for token in merged:
        pieces = tokenizer.convert_tokens_to_ids(list(token.pieces))
        torch.testing.assert_close(fitted_weights[token.slot], weights[pieces].mean(0))


def test_only_chosen_rows_change_and_no_parameter_is_added(fitted, tiny_backbone):
    _, pretrained, _ = load_backbone(tiny_backbone)
    before = pretrained.state_dict()
    after = fitted.module_.encoder.state_dict()
    assert {k: v.shape for k, v in after.items()} == {k: v.shape for k, v in before.items()}
    assert set(fitted.module_.state_dict()) == {f"encoder.{k}" for k in before} | {
        "head.weight", "head.bias"}
    slots = {token.slot for token in fitted.task_tokens_ if token.slot is not None}
    changed_somewhere = False
    for name, value in after.items():
        module_name, kind = name.rsplit(".", 1)
        changed = (value != before[name])
        changed_rows = set(np.flatnonzero(changed.reshape(changed.shape[0], -1).any(1).numpy())
                           if changed.ndim else [])
        allowed = set(fitted.selected_rows_.get(module_name, []))
        if module_name.endswith("word_embeddings"):
            allowed |= slots
        assert changed_rows <= allowed, name
        changed_somewhere |= bool(changed_rows)
    assert changed_somewhere


def test_trainable_count_is_exact(fitted):
    encoder = fitted.module_.encoder
    expected = sum(
        len(rows) * (encoder.get_submodule(name).weight.shape[1]
                     + (getattr(encoder.get_submodule(name), "bias", None) is not None))
        for name, rows in fitted.selected_rows_.items()
    )
    n_head = sum(p.numel() for p in fitted.module_.head.parameters())
    assert fitted.n_trainable_params_ == expected + n_head
    n_backbone = sum(p.numel() for p in encoder.parameters())
    assert fitted.trainable_fraction_ == pytest.approx(expected / n_backbone)
    assert 0 < fitted.trainable_fraction_ <= 0.05


def test_embedding_rows_train_only_when_training_reaches_the_bottom(tiny_backbone, data):
    shallow = sparse(tiny_backbone, n_layers=1, max_epochs=1).fit(*data)
    assert not any("embeddings" in name for name in shallow.selected_rows_)
    assert all(name.startswith("encoder.layer.1.") for name in shallow.selected_rows_)


def test_learns_the_toy_task(fitted, data):
    held_out, labels = make_texts(10, seed=1, classes=("card", "refund", "transfer"))
    assert fitted.score(held_out, labels) >= 0.8


@pytest.mark.parametrize("n_layers", [1, None])
def test_same_random_state_same_tokens_rows_and_predictions(tiny_backbone, data, n_layers):
    first = sparse(tiny_backbone, n_layers=n_layers, max_epochs=2).fit(*data)
    second = sparse(tiny_backbone, n_layers=n_layers, max_epochs=2).fit(*data)
    assert first.task_tokens_ == second.task_tokens_
    assert first.selected_rows_.keys() == second.selected_rows_.keys()
    for name in first.selected_rows_:
        np.testing.assert_array_equal(first.selected_rows_[name], second.selected_rows_[name])
    texts, _ = data
    np.testing.assert_array_equal(first.predict_proba(texts), second.predict_proba(texts))


def test_sparsity_orders_the_trainable_fraction(tiny_backbone, data):
    fractions = [
        sparse(tiny_backbone, sparsity=s, max_epochs=1, n_layers=None).fit(*data).trainable_fraction_
        for s in (0.001, 0.004, 0.01)  # linear layers are ~1.6% of the tiny backbone
    ]
    assert fractions[0] < fractions[1] < fractions[2]


def test_grid_search_over_sparsity(tiny_backbone, data):
    search = GridSearchCV(sparse(tiny_backbone, max_epochs=1), {"sparsity": [0.01, 0.05]}, cv=2)
    search.fit(*data)
    assert search.best_params_["sparsity"] in (0.01, 0.05)


def test_scaling_a_query_row_changes_the_encoder_as_scaling_its_key_row(tiny_backbone):
    """Why key rows get no budget: their sensitivity repeats the query row's."""
    _, encoder, _ = load_backbone(tiny_backbone)
    encoder.eval()
    ids = torch.tensor([[101, 2023, 2003, 1037, 2204, 3185, 102]])
    mask = torch.ones_like(ids)

    def hidden_with_row_scaled(projection, row=3, factor=1.5):
        scaled = copy.deepcopy(encoder)
        layer = getattr(scaled.encoder.layer[0].attention.self, projection)
        with torch.no_grad():
            layer.weight[row] *= factor
            layer.bias[row] *= factor
        return scaled(input_ids=ids, attention_mask=mask).last_hidden_state

    unscaled = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    by_query = hidden_with_row_scaled("query")
    torch.testing.assert_close(by_query, hidden_with_row_scaled("key"))
    assert not torch.allclose(by_query, unscaled)
    assert not torch.allclose(by_query, hidden_with_row_scaled("value"))


def test_attention_key_rows_are_never_chosen(fitted):
    encoder = fitted.module_.encoder
    keys = [name for name, layer in linear_layers(encoder).items()
            if name.endswith("attention.self.key")]
    assert keys and not set(keys) & set(fitted.selected_rows_)
    assert any(name.endswith("attention.self.query") for name in fitted.selected_rows_)

# --- deltas, merging and the frozen-prefix cache ----------------------------


def test_linear_delta_merges_to_the_same_function():
    torch.manual_seed(0)
    base = nn.Linear(6, 5)
    original = base.weight.detach().clone()
    wrapper = RowDeltaLinear(base, [1, 3])
    with torch.no_grad():
        wrapper.weight_delta.normal_()
        wrapper.bias_delta.normal_()
    x = torch.randn(4, 6)
    expected = wrapper(x)
    merged = wrapper.merge()
    torch.testing.assert_close(merged(x), expected)
    unchanged = [0, 2, 4]
    assert torch.equal(merged.weight[unchanged], original[unchanged])


def test_embedding_delta_merges_to_the_same_function():
    torch.manual_seed(0)
    wrapper = RowDeltaEmbedding(nn.Embedding(10, 4), [2, 7])
    with torch.no_grad():
        wrapper.weight_delta.normal_()
    ids = torch.tensor([[2, 3, 7, 7]])
    expected = wrapper(ids)
    torch.testing.assert_close(wrapper.merge()(ids), expected)


def test_only_deltas_and_head_receive_gradients(tiny_backbone):
    _, encoder, _ = load_backbone(tiny_backbone)
    module = TextClassifierModule(encoder, 2)
    encoder.requires_grad_(False)
    attach_deltas(encoder, {"encoder.layer.1.intermediate.dense": [0, 5]})
    trainable = {name for name, p in module.named_parameters() if p.requires_grad}
    assert trainable == {"encoder.encoder.layer.1.intermediate.dense.weight_delta",
                         "encoder.encoder.layer.1.intermediate.dense.bias_delta",
                         "head.weight", "head.bias"}
    merge_deltas(encoder)
    assert not any(isinstance(m, RowDeltaLinear) for m in encoder.modules())


def test_prefix_cache_gives_the_plain_module_outputs(tiny_backbone):
    tokenizer, encoder, _ = load_backbone(tiny_backbone)
    module = TextClassifierModule(encoder, 3).eval()
    batch = tokenizer(["my card", "a much longer text about a refund"], padding=True,
                      return_tensors="pt")
    expected = module(batch["input_ids"], batch["attention_mask"])
    cached = FrozenBlockCache(module, first_trained=1).eval()
    index = torch.tensor([10, 11])
    short = tokenizer(["my card"], return_tensors="pt")
    cached(short["input_ids"], short["attention_mask"], index[:1])  # cached alone, unpadded
    for _ in range(2):  # then served from the cache next to a longer text
        torch.testing.assert_close(cached(batch["input_ids"], batch["attention_mask"], index),
                                   expected)


# --- errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    "params,error,message",
    [
        ({"sparsity": 0.0}, ValueError, "sparsity == 0.0, must be > 0"),
        ({"sparsity": 1.5}, ValueError, "sparsity == 1.5, must be <= 1"),
        ({"n_task_tokens": 0}, ValueError, "n_task_tokens == 0, must be >= 1"),
        ({"n_layers": 0}, ValueError, "n_layers must be 'auto', None"),
        ({"n_layers": 9}, ValueError, "n_layers=9 but the backbone has only 2 blocks"),
        ({"adaptive_tokenization": "yes"}, ValueError, "adaptive_tokenization must be True"),
    ],
)
def test_bad_token_sparse_parameters(tiny_backbone, data, params, error, message):
    with pytest.raises(error, match=message):
        sparse(tiny_backbone, max_epochs=1, **params).fit(*data)


def test_no_task_token_in_empty_texts(tiny_backbone):
    with pytest.raises(ValueError, match="No task token group found"):
        sparse(tiny_backbone).fit(["", "", "", ""], ["a", "b", "a", "b"])


def test_default_tokenizer_has_reserved_slots(tiny_backbone):
    tokenizer, _, _ = load_backbone(tiny_backbone)
    assert len(reserved_slots(tokenizer)) > 900


def test_a_small_budget_keeps_the_best_task_tokens_embedding_rows(tiny_backbone, data):
    # Two embedding rows of the 32-wide tiny backbone (999,072 weights).
    budget_of_two_rows = 2 * 32 / 999_072
    clf = sparse(tiny_backbone, sparsity=budget_of_two_rows, n_layers=None, max_epochs=1)
    clf.fit(*data)
    rows = clf.selected_rows_["embeddings.word_embeddings"]
    tokenizer = clf.tokenizer_.tokenizer
    ids_by_score = []
    for token in clf.task_tokens_:
        ids = ([token.slot] if token.slot is not None
               else tokenizer.convert_tokens_to_ids(list(token.pieces)))
        ids_by_score += [i for i in ids if i not in ids_by_score]
    assert sorted(rows) == sorted(ids_by_score[:2])


def test_auto_depth_trains_every_block_first_then_only_the_top(tiny_backbone, data,
                                                                monkeypatch):
    from sklearn_tsft.strategies.token_sparse import TokenSparse

    views, narrow = [], TokenSparse.narrow

    def spy(self, module):
        view = narrow(self, module)
        frozen_below = {name: param.detach().clone() for name, param in module.named_parameters()
                        if name.startswith(("encoder.embeddings.", "encoder.encoder.layer.0."))}
        views.append((view, frozen_below))
        return view

    monkeypatch.setattr(TokenSparse, "narrow", spy)
    clf = sparse(tiny_backbone, max_epochs=3, sparsity=0.2).fit(*data)
    [(view, frozen_below)] = views  # after the first quarter of the optimizer steps
    assert isinstance(view, FrozenBlockCache) and view.first_trained == 1  # top 1 of 2 blocks
    # Phase one reached the bottom: task-token embedding rows and block 0 rows were chosen.
    assert "embeddings.word_embeddings" in clf.selected_rows_
    assert any(name.startswith("encoder.layer.0.") for name in clf.selected_rows_)
    # Merged at the switch and frozen after it: the lower weights are those of the switch.
    final = dict(clf.module_.named_parameters())
    for name, value in frozen_below.items():
        torch.testing.assert_close(final[name], value, rtol=0, atol=0)
    _, pretrained, _ = load_backbone(tiny_backbone)
    rows = clf.selected_rows_["embeddings.word_embeddings"]
    assert not torch.equal(final["encoder.embeddings.word_embeddings.weight"][rows],
                           pretrained.get_input_embeddings().weight[rows])


def test_auto_depth_trains_a_12_block_encoder_at_full_depth_for_an_eighth_of_the_steps(
        tmp_path, data, monkeypatch):
    from sklearn_tsft.strategies.token_sparse import TokenSparse

    save_tiny_bert(tmp_path, num_hidden_layers=12)
    switches, views = [], []
    callbacks, narrow = TokenSparse.training_callbacks, TokenSparse.narrow

    def spy_callbacks(self, n_steps):
        made = callbacks(self, n_steps)
        switches.extend((n_steps, callback.step) for _, callback in made)
        return made

    def spy_narrow(self, module):
        views.append(narrow(self, module))
        return views[-1]

    monkeypatch.setattr(TokenSparse, "training_callbacks", spy_callbacks)
    monkeypatch.setattr(TokenSparse, "narrow", spy_narrow)
    sparse(str(tmp_path), max_epochs=8, sparsity=0.2).fit(*data)
    [(n_steps, step)] = switches
    assert step == round(n_steps / 8) and step > 1
    [view] = views
    assert view.first_trained == 10  # the top sixth: 2 of 12 blocks


def test_depth_switch_comes_after_its_number_of_training_steps():
    from types import SimpleNamespace

    from sklearn_tsft.strategies.token_sparse import NarrowAfterStep

    net = SimpleNamespace(module_="full depth")
    switch = NarrowAfterStep(3, lambda module: f"narrowed {module}")
    switch.on_train_begin(net)
    seen = []
    for training in (True, False, True, False, True, True, True):
        switch.on_batch_end(net, training=training)
        seen.append(net.module_)
    # Validation batches do not count; the switch happens once, at the third step.
    assert seen == ["full depth"] * 4 + ["narrowed full depth"] * 3


@pytest.mark.parametrize("params", [dict(max_epochs=1, batch_size=64), dict(n_layers=None),
                                    dict(validation_fraction=0.25, early_stopping=2)])
def test_no_depth_switch_without_steps_after_it_or_with_early_stopping(tiny_backbone, data,
                                                                        monkeypatch, params):
    from sklearn_tsft.strategies.token_sparse import TokenSparse

    def refuse(self, module):
        raise AssertionError("narrowed")

    monkeypatch.setattr(TokenSparse, "narrow", refuse)
    sparse(tiny_backbone, **params).fit(*data)


def test_early_stopping_switches_the_depth_schedule_off_with_a_warning(tiny_backbone, data):
    with pytest.warns(UserWarning, match="depth schedule is off because early_stopping is set"):
        sparse(tiny_backbone, validation_fraction=0.25, early_stopping=2).fit(*data)
