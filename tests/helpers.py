"""Test helpers that must exist at collection time (parametrize_with_checks)."""

import atexit
import functools
import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertModel

from sklearn_tsft import classifier as classifier_module
from sklearn_tsft import training
from sklearn_tsft.backbone import default_model_path

TOPICS = {
    "card": ["card", "arrived", "delivery", "mail", "plastic"],
    "refund": ["refund", "money", "back", "return", "reimburse"],
    "transfer": ["transfer", "account", "send", "iban", "wire"],
}
FILLER = ["please", "my", "the", "is", "why", "help", "i", "need", "what", "today"]


def make_texts(n_per_class, seed=0, classes=("card", "refund")):
    """Short texts whose topic words reveal their label."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for label in classes:
        for _ in range(n_per_class):
            words = list(rng.choice(TOPICS[label], size=2)) + list(rng.choice(FILLER, size=4))
            rng.shuffle(words)
            texts.append(" ".join(words))
            labels.append(label)
    order = rng.permutation(len(texts))
    return [texts[i] for i in order], np.array(labels)[order]


def save_tiny_bert(path, num_hidden_layers=2):
    """Save a 32-hidden BERT with MiniLM's tokenizer at ``path``; return ``path``."""
    tokenizer = AutoTokenizer.from_pretrained(default_model_path(), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)  # the same tiny backbone in every run
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@functools.lru_cache(maxsize=None)
def tiny_backbone_dir():
    """Build (once per process) the 2-layer tiny BERT of :func:`save_tiny_bert`."""
    path = tempfile.mkdtemp(prefix="tsft_tiny_bert_")
    # Child processes that are handed the path finish before this one.
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return save_tiny_bert(path)


def block_import(monkeypatch, module_name):
    """Make ``import module_name`` fail, as when an optional extra is not installed."""
    import builtins

    real_import = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name == module_name:
            raise ImportError(f"No module named {module_name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def benchmark_script(name):
    """Import ``benchmarks/<name>.py`` as a module (it imports its sibling ``repository``)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def fit_recording(clf, texts, labels, recorder):
    """Fit ``clf`` with ``recorder`` as the first callback of its net (not a clone)."""
    original = training.build_net

    def with_recorder(*args, **kwargs):
        net = original(*args, **kwargs)
        # First: it sees each step before any other callback acts on it.
        net.callbacks.insert(0, ("record", recorder))
        return net

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(classifier_module, "build_net", with_recorder)
        clf.fit(texts, labels)
