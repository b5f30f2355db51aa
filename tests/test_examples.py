"""Every example runs in its --quick form on the tiny backbone and writes its figure."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from .helpers import TOPICS, make_texts

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("plot_*.py"))


@pytest.fixture(scope="module")
def banking77_like(tmp_path_factory):
    """A folder shaped like banking77 (train.csv, test.csv; text, category) with toy texts."""
    folder = tmp_path_factory.mktemp("banking77")
    for name, seed in [("train", 0), ("test", 1)]:
        texts, labels = make_texts(12, seed=seed, classes=tuple(TOPICS))
        pd.DataFrame({"text": texts, "category": labels}).to_csv(folder / f"{name}.csv",
                                                                 index=False)
    return folder


def test_there_are_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_example_runs_quick_and_saves_its_figure(example, banking77_like, tiny_backbone,
                                                 tmp_path):
    figure = tmp_path / "figure.png"
    done = subprocess.run(
        [sys.executable, str(example), "--quick", "--data", str(banking77_like),
         "--model", tiny_backbone, "--out", str(figure)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert figure.read_bytes().startswith(b"\x89PNG")
