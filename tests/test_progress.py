"""What a fit prints: one bar with its phases at verbose=1, nothing at 0, no colour in pipes."""

import subprocess
import sys

import pytest

FIT = """
import sys
from sklearn_tsft import TokenSparseClassifier
sys.path.insert(0, sys.argv[3])
from tests.helpers import make_texts

texts, labels = make_texts(20)
TokenSparseClassifier(sys.argv[1], max_epochs=3, batch_size=8, random_state=0, device="cpu",
                      validation_fraction=0.2, verbose=int(sys.argv[2])).fit(texts, labels)
"""


def piped_fit(tiny_backbone, verbose):
    """stdout and stderr of a short fit in a process whose output goes to pipes."""
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", FIT, tiny_backbone, str(verbose), root],
                          capture_output=True, timeout=300, check=False)
    # Bytes, decoded by hand: text mode would turn the bar's \r into \n.
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, err[-2000:]
    return out, err


def test_verbose_1_shows_one_bar_through_the_phases_without_colour_codes(tiny_backbone):
    out, err = piped_fit(tiny_backbone, 1)
    assert out == ""
    assert "\x1b[" not in err
    # One bar: redrawn in place (carriage returns), closed by one newline.
    assert err.count("\n") == 1 and err.endswith("\n")
    states = [state for state in err.split("\r") if state.strip()]
    phases = [state.split(":")[0].strip() for state in states]
    assert phases[0] == "loading"
    order = ["loading", "task tokens", "selection", "training", "statistics"]
    assert [p for p in order if p in phases] == order
    assert [phase for phase in phases if phase not in order] == []
    # Training counts the optimizer steps of all epochs: 3 epochs of 32
    # training texts (8 held out) in batches of 8.
    assert "12/12" in states[-1] and "valid_loss=" in states[-1]


def test_verbose_0_is_silent(tiny_backbone):
    assert piped_fit(tiny_backbone, 0) == ("", "")


def test_verbose_2_adds_the_epoch_table_without_colour_codes(tiny_backbone):
    out, _ = piped_fit(tiny_backbone, 2)
    assert "train_loss" in out and "valid_loss" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == 3
    assert "\x1b[" not in out


def test_an_unknown_phase_is_refused():
    from sklearn_tsft.progress import FitProgress

    progress = FitProgress(enabled=False)
    with pytest.raises(ValueError, match="unknown phase 'nonsense'"):
        progress.phase("nonsense")
    progress.close()
