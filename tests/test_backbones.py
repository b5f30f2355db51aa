"""Every strategy on tiny random models of the common encoder and decoder architectures.

Each backbone is built offline from a transformers config (2 blocks, 32
hidden units, MiniLM's tokenizer), fitted for one epoch with every
strategy, and must predict, save and load with identical probabilities, or
refuse at the start of ``fit`` with a message naming the architecture.
"""

import functools
import importlib.util
import shutil
import tempfile

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer, pipeline

from sklearn_tsft import TokenSparseClassifier
from sklearn_tsft.backbone import attention_key_rows, default_model_path, fan_out, linear_layers
from sklearn_tsft.strategies import available_strategies

from .helpers import make_texts

# 130 positions: RoBERTa-style encoders number positions after the padding id,
# so they lose up to two to reach the default max_length of 128.
SIZES = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
             max_position_embeddings=130)
ARCHITECTURES = {
    "bert": SIZES,
    "distilbert": dict(dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=128),
    "roberta": dict(SIZES, pad_token_id=0),
    "xlm-roberta": dict(SIZES, pad_token_id=0),
    "electra": dict(SIZES, embedding_size=32),
    "deberta-v2": SIZES,
    "mpnet": SIZES,
    "modernbert": dict(SIZES, pad_token_id=0, bos_token_id=101, eos_token_id=102,
                       cls_token_id=101, sep_token_id=102),
    "gpt2": dict(n_embd=32, n_layer=2, n_head=2, n_positions=128, bos_token_id=101,
                 eos_token_id=102),
    "llama": dict(SIZES, num_key_value_heads=2, pad_token_id=0),
    "qwen2": dict(SIZES, num_key_value_heads=2, pad_token_id=0),
}
# (architecture, strategy): the refusal fit must give.
REFUSED = {(arch, "prefix"): f"does not work on {arch} backbones"
           for arch in ("deberta-v2", "distilbert", "mpnet", "modernbert")}


@functools.lru_cache(maxsize=None)
def tiny_model(architecture):
    path = tempfile.mkdtemp(prefix=f"tsft_tiny_{architecture}_")
    tokenizer = AutoTokenizer.from_pretrained(default_model_path(), local_files_only=True)
    config = AutoConfig.for_model(architecture, vocab_size=tokenizer.vocab_size,
                                  **ARCHITECTURES[architecture])
    tokenizer.save_pretrained(path)
    config.save_pretrained(path)
    # Loaded beside a decoder's config, the tokenizer gains that decoder's
    # end-of-text token, which needs an embedding row of its own.
    config.vocab_size = len(AutoTokenizer.from_pretrained(path, local_files_only=True))
    torch.manual_seed(0)
    AutoModel.from_config(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module", autouse=True)
def remove_tiny_models():
    yield
    for architecture in ARCHITECTURES:
        shutil.rmtree(tiny_model(architecture), ignore_errors=True)


@pytest.mark.parametrize("strategy", sorted(available_strategies()))
@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_every_strategy_fits_saves_and_loads_or_refuses(architecture, strategy, tmp_path):
    if strategy in ("lora", "prefix"):
        pytest.importorskip("peft")
    texts, labels = make_texts(6)
    clf = TokenSparseClassifier(tiny_model(architecture), strategy=strategy, max_epochs=1,
                                batch_size=8, device="cpu", random_state=0)
    if (architecture, strategy) in REFUSED:
        with pytest.raises(ValueError, match=REFUSED[architecture, strategy]):
            clf.fit(texts, labels)
        assert not hasattr(clf, "classes_")
        return
    probabilities = clf.fit(texts, labels).predict_proba(texts)
    assert np.isfinite(probabilities).all()
    if strategy == "token_sparse":
        assert_no_attention_key_row_chosen(clf)
    clf.save(tmp_path / "model")
    loaded = TokenSparseClassifier.load(tmp_path / "model")
    np.testing.assert_allclose(loaded.predict_proba(texts), probabilities, rtol=1e-5, atol=1e-6)
    assert_exports_predict_alike(clf, texts, probabilities, tmp_path)


def assert_no_attention_key_row_chosen(clf):
    """Key projections, separate or a fused projection's middle third, get no rows."""
    encoder = clf.module_.encoder
    has_keys = False
    for name, layer in linear_layers(encoder).items():
        keys = set(range(fan_out(layer))[attention_key_rows(name, layer)])
        has_keys |= bool(keys)
        assert not keys & set(clf.selected_rows_.get(name, [])), name
    assert has_keys


def assert_exports_predict_alike(clf, texts, probabilities, tmp_path):
    """ONNX gives the same probabilities; transformers' pipeline the same labels, or a refusal."""
    if importlib.util.find_spec("onnxruntime"):
        clf.export_onnx(tmp_path / "onnx")
        onnx = TokenSparseClassifier.load(tmp_path / "onnx", backend="onnx")
        np.testing.assert_allclose(onnx.predict_proba(texts), probabilities, rtol=1e-4, atol=1e-5)
    if clf.strategy == "prefix":
        with pytest.raises(ValueError, match="use save\\(\\)/load\\(\\), or another strategy"):
            clf.export_pretrained(tmp_path / "hf")
        return
    clf.export_pretrained(tmp_path / "hf")
    outputs = pipeline("text-classification", model=str(tmp_path / "hf"), device="cpu")(texts)
    assert [out["label"] for out in outputs] == list(clf.predict(texts))
    np.testing.assert_allclose([out["score"] for out in outputs], probabilities.max(axis=1),
                               rtol=1e-4)


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_depth_schedule_trains_its_last_epochs_on_cached_states(architecture, monkeypatch):
    from sklearn_tsft.strategies.frozen_blocks import FrozenBlockCache
    from sklearn_tsft.strategies.token_sparse import TokenSparse

    views, narrow = [], TokenSparse.narrow
    monkeypatch.setattr(TokenSparse, "narrow",
                        lambda self, module: views.append(narrow(self, module)) or views[-1])
    texts, labels = make_texts(6)
    clf = TokenSparseClassifier(tiny_model(architecture), max_epochs=3, batch_size=8,
                                device="cpu", random_state=0).fit(texts, labels)
    [view] = views
    assert isinstance(view, FrozenBlockCache) and len(view._cache) == len(texts)
    assert np.isfinite(clf.predict_proba(texts)).all()


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_cached_forward_equals_the_plain_forward_and_skips_the_lower_blocks(architecture):
    from sklearn_tsft.backbone import TextClassifierModule, block_names, load_backbone
    from sklearn_tsft.strategies.frozen_blocks import FrozenBlockCache

    _, encoder, _ = load_backbone(tiny_model(architecture))
    module = TextClassifierModule(encoder, 2).eval()
    input_ids = torch.randint(1000, 2000, (3, 7), generator=torch.Generator().manual_seed(0))
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 4:] = 0
    cached = FrozenBlockCache(module, first_trained=1)
    runs = []
    lowest = encoder.get_submodule(block_names(encoder)[0])
    lowest.register_forward_hook(lambda *_: runs.append(1))
    with torch.no_grad():
        expected = module(input_ids, attention_mask)
        first = cached(input_ids, attention_mask, torch.arange(3))
        runs.clear()
        again = cached(input_ids, attention_mask, torch.arange(3))
    torch.testing.assert_close(first, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(again, expected, rtol=1e-4, atol=1e-5)
    assert runs == []  # the lowest block did not run once the states were cached


@pytest.mark.parametrize("architecture, pooling", [("bert", "mean"), ("gpt2", "last"),
                                                   ("llama", "last"), ("qwen2", "last")])
def test_decoders_pool_their_last_token_and_encoders_their_mean(architecture, pooling):
    texts, labels = make_texts(6)
    clf = TokenSparseClassifier(tiny_model(architecture), strategy="head", max_epochs=1,
                                batch_size=8, device="cpu", random_state=0).fit(texts, labels)
    assert clf.pooling_ == clf.module_.pooling == pooling


def test_pooling_can_be_chosen_and_survives_save_and_load(tmp_path):
    texts, labels = make_texts(6)
    clf = TokenSparseClassifier(tiny_model("llama"), strategy="head", pooling="mean",
                                max_epochs=1, batch_size=8, device="cpu",
                                random_state=0).fit(texts, labels)
    assert clf.pooling_ == "mean"
    clf.save(tmp_path / "model")
    loaded = TokenSparseClassifier.load(tmp_path / "model")
    assert loaded.pooling_ == loaded.module_.pooling == "mean"
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), rtol=1e-6)


def subword_tokenizer(kind):
    """A byte-level BPE (GPT-2, RoBERTa, Qwen2) or SentencePiece-style Unigram tokenizer, trained offline."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = make_texts(30, classes=("card", "refund", "transfer"))[0] * 3
    specials = ["<pad>", "<eos>", "<unk>"]
    if kind == "bpe":
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=specials,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    else:
        tokenizer = Tokenizer(models.Unigram())
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=60, special_tokens=specials,
                                          unk_token="<unk>")
    tokenizer.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>",
                                   eos_token="<eos>", unk_token="<unk>")


@pytest.mark.parametrize("kind, architecture", [("bpe", "qwen2"), ("unigram", "deberta-v2")])
def test_subword_tokenizers_put_task_words_in_spare_embedding_rows(kind, architecture, tmp_path):
    tokenizer = subword_tokenizer(kind)
    config = AutoConfig.for_model(architecture, vocab_size=len(tokenizer) + 8,
                                  **dict(ARCHITECTURES[architecture], pad_token_id=0))
    torch.manual_seed(0)
    AutoModel.from_config(config).save_pretrained(tmp_path / "backbone")
    tokenizer.save_pretrained(tmp_path / "backbone")
    texts, labels = make_texts(10, classes=("card", "refund", "transfer"))
    clf = TokenSparseClassifier(str(tmp_path / "backbone"), max_epochs=1, batch_size=8,
                                device="cpu", random_state=0).fit(texts, labels)
    merged = [token for token in clf.task_tokens_ if token.slot is not None]
    assert merged, "some task word is split into pieces by this tokenizer"
    assert all(len(tokenizer) <= token.slot < len(tokenizer) + 8 for token in merged)
    # No parameters added: the embedding matrix keeps its rows.
    assert clf.module_.encoder.get_input_embeddings().num_embeddings == len(tokenizer) + 8
    word = merged[0]
    assert word.slot in clf.tokenizer_.tokenizer(f"why {word.word} please")["input_ids"]
    clf.save(tmp_path / "model")
    loaded = TokenSparseClassifier.load(tmp_path / "model")
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), rtol=1e-6)


def test_contrastive_needs_something_in_the_backbone_to_train():
    # ModernBERT has no biases: bitfit trains the head alone.
    texts, labels = make_texts(6)
    params = dict(model=tiny_model("modernbert"), strategy="bitfit", max_epochs=1,
                  batch_size=8, device="cpu", random_state=0)
    assert TokenSparseClassifier(**params).fit(texts, labels).objective_ == "cross_entropy"
    clf = TokenSparseClassifier(**params, objective="contrastive")
    with pytest.raises(ValueError, match="finds nothing to train"):
        clf.fit(texts, labels)
    assert not hasattr(clf, "classes_")
