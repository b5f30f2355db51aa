"""Every strategy on tiny random models of the common encoder and decoder architectures.

Each backbone is built offline from a transformers config (2 blocks, 32
hidden units, MiniLM's tokenizer), fitted for one epoch with every
strategy, and must predict, save and load with identical probabilities, or
refuse at the start of ``fit`` with a message naming the architecture.
"""

import functools
import shutil
import tempfile

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer

from sklearn_tsft import TokenSparseClassifier
from sklearn_tsft.backbone import default_model_path
from sklearn_tsft.strategies import available_strategies

from .helpers import make_texts

SIZES = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
             max_position_embeddings=128)
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
    torch.manual_seed(0)
    AutoModel.from_config(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
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
    clf.save(tmp_path / "model")
    loaded = TokenSparseClassifier.load(tmp_path / "model")
    np.testing.assert_allclose(loaded.predict_proba(texts), probabilities, rtol=1e-5, atol=1e-6)


# Layouts the frozen-block cache knows (embeddings + encoder.layer).
CACHED = {"bert", "roberta", "xlm-roberta", "electra", "deberta-v2", "mpnet"}


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_depth_schedule_caches_the_frozen_blocks_where_the_layout_allows(architecture,
                                                                         monkeypatch):
    from sklearn_tsft.strategies.frozen_blocks import FrozenBlockCache
    from sklearn_tsft.strategies.token_sparse import TokenSparse

    views, narrow = [], TokenSparse.narrow
    monkeypatch.setattr(TokenSparse, "narrow",
                        lambda self, module: views.append(narrow(self, module)) or views[-1])
    texts, labels = make_texts(6)
    TokenSparseClassifier(tiny_model(architecture), max_epochs=3, batch_size=8, device="cpu",
                          random_state=0).fit(texts, labels)
    [view] = views
    assert isinstance(view, FrozenBlockCache) == (architecture in CACHED)
