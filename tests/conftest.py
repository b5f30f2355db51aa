"""Shared fixtures: a tiny BERT backbone built offline, and small text data."""

import os
from pathlib import Path

import pytest

from .helpers import make_texts, tiny_backbone_dir

DATA_DIR = Path(os.environ.get("TSFT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

@pytest.fixture(scope="session")
def tiny_backbone():
    """Directory of a randomly initialised 2-layer, 32-hidden BERT with MiniLM's tokenizer."""
    return tiny_backbone_dir()


@pytest.fixture(scope="session")
def toy_data():
    return make_texts(20)


@pytest.fixture
def tiny_params(tiny_backbone):
    """Constructor arguments for a fast, repeatable fit on the tiny backbone."""
    return dict(model=tiny_backbone, max_epochs=4, batch_size=8, head_lr=1e-1,
                random_state=0, device="cpu")


@pytest.fixture(scope="session")
def fitted_tiny(tiny_backbone, toy_data):
    """A token_sparse fit on the tiny backbone, shared by tests that only read it."""
    from sklearn_tsft import TokenSparseClassifier

    clf = TokenSparseClassifier(tiny_backbone, max_epochs=3, batch_size=8, head_lr=1e-1,
                                random_state=0, device="cpu")
    return clf.fit(*toy_data)


@pytest.fixture(scope="session")
def banking77():
    """Train and test frames of ../shared/data/banking77 (skips when absent)."""
    pandas = pytest.importorskip("pandas")
    folder = DATA_DIR / "banking77"
    if not (folder / "train.csv").exists():
        pytest.skip(f"banking77 data not found at {folder}; set TSFT_DATA to its parent folder")
    return pandas.read_csv(folder / "train.csv"), pandas.read_csv(folder / "test.csv")
