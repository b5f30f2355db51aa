"""Fault injection: a process killed at every step of a save never leaves a mixed model.

A child process overwrites model A with model B (the same texts, the labels
renamed so that the class order flips: a mix of the two predicts wrong
labels) and is
killed (``os._exit``, no cleanup runs) just before its k-th file system
write, for k = 1, 2, ... until a save completes. After each kill the path
must load as A, load as B, or be refused with ``ModelFormatError``. Writes
are seen through Python's audit hooks, so the test does not depend on how
the save is written.
"""

import multiprocessing
import os
import shutil

import numpy as np
import pandas as pd
import pytest

from sklearn_tsft import ModelFormatError, TokenSparseClassifier
from sklearn_tsft.cli import main as cli_main

KILLED = 86
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _kill_before_write(kill_at):
    import sys

    seen = 0

    def hook(event, args):
        nonlocal seen
        writes = (event in ("os.rename", "os.replace", "shutil.rmtree")
                  or (event == "open" and _writes(args)))
        if writes:
            seen += 1
            if seen == kill_at:
                os._exit(KILLED)

    sys.addaudithook(hook)


def _writes(args):
    _, mode, flags = args
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return bool(flags & WRITE_FLAGS)


def _overwrite(action, source, target, kill_at):
    import torch

    # A forked child must not enter an OpenMP region the parent's pool owns.
    torch.set_num_threads(1)
    model = TokenSparseClassifier.load(source)
    _kill_before_write(kill_at)
    if action == "save":
        model.save(target)
    elif action == "export_onnx":
        model.export_onnx(target)
    else:
        cli_main(["predict", source, str(action), "--out", target])


def run_killed(action, source, target, kill_at):
    """Run one overwrite in a forked process; True if the kill happened."""
    # Forked, not spawned: a fresh interpreter per step would take seconds.
    process = multiprocessing.get_context("fork").Process(
        target=_overwrite, args=(action, str(source), str(target), kill_at))
    process.start()
    process.join(120)
    assert process.exitcode in (0, KILLED), process.exitcode
    return process.exitcode == KILLED


@pytest.fixture(scope="module")
def models(fitted_tiny, toy_data, tmp_path_factory):
    texts, labels = toy_data
    # Renamed so that the class order flips: B's first logit is "refund".
    renamed = np.where(labels == "card", "y_card", "x_refund")
    other = TokenSparseClassifier(**fitted_tiny.get_params()).fit(texts, renamed)
    root = tmp_path_factory.mktemp("models")
    fitted_tiny.save(root / "a")
    other.save(root / "b")
    expected = {name: (model.predict(texts), model.predict_proba(texts))
                for name, model in [("a", fitted_tiny), ("b", other)]}
    return root, texts, expected


def state_of(path, texts, expected, backend):
    try:
        loaded = TokenSparseClassifier.load(path, backend=backend)
    except ModelFormatError:
        return "refused"
    predicted, probabilities = loaded.predict(texts), loaded.predict_proba(texts)
    # onnxruntime's float arithmetic differs from torch's in the last digits.
    matches = [name for name, (labels, proba) in expected.items()
               if np.array_equal(predicted, labels)
               and np.allclose(probabilities, proba, rtol=1e-4, atol=1e-6)]
    assert matches, "the directory loads as neither the old model nor the new one"
    return matches[0]


@pytest.mark.parametrize("action, backend", [("save", "torch"), ("export_onnx", "onnx")])
def test_killed_save_leaves_the_old_model_the_new_one_or_a_refusal(models, tmp_path, action,
                                                                    backend):
    if action == "export_onnx":
        pytest.importorskip("onnxruntime", reason="needs sklearn-tsft[onnx]")
    root, texts, expected = models
    old, target = tmp_path / "old", tmp_path / "model"
    TokenSparseClassifier.load(root / "a").export_onnx(old)
    seen, kill_at = [], 1
    while True:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(old, target)
        if not run_killed(action, root / "b", target, kill_at):
            break
        seen.append(state_of(target, texts, expected, backend))
        kill_at += 1
    assert len(seen) >= 4  # the save has several steps to be killed at
    # The old model until the renames, then (between them) no directory, then the new one.
    assert seen[0] == "a" and seen == sorted(seen, key=["a", "refused", "b"].index)
    assert state_of(target, texts, expected, backend) == "b"


def test_killed_predict_out_leaves_the_old_file_or_the_new_one(models, tmp_path):
    root, texts, _ = models
    table = tmp_path / "texts.csv"
    pd.DataFrame({"text": texts}).to_csv(table, index=False)
    out = tmp_path / "predictions.csv"
    old = "text,prediction\nold,old\n"
    kill_at = 1
    while True:
        out.write_text(old)
        if not run_killed(table, root / "a", out, kill_at):
            break
        assert out.read_text() == old
        kill_at += 1
    assert kill_at >= 2
    new = pd.read_csv(out)
    assert len(new) == len(texts) and set(new.prediction) <= {"card", "refund"}
