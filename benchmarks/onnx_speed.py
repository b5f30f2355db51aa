"""CPU serving: texts/s and accuracy of torch fp32, ONNX fp32 and ONNX int8 in one run.

A token_sparse fit on the ``--quick`` slice of banking77 (3 epochs), saved
and exported twice (``export_onnx`` with and without ``quantize="int8"``),
then each version predicts the same 2,000 banking77 test texts in
``--repeats`` interleaved rounds. The speed-up is the median over rounds of
torch's time over the version's time in the same round (with the smallest
and largest), which cancels most of a shared machine's drift. Run from the
repository root: ``python benchmarks/onnx_speed.py`` (about 5 minutes on two
CPU cores).
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import accuracy_score

from sklearn_tsft import TokenSparseClassifier
from repository import add_repository_arguments
from sklearn_tsft.benchmark import load_split


def main(argv=None):
    parser = add_repository_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--repeats", type=int, default=5)
    parser.set_defaults(quick=True, n_test=2000)
    args = parser.parse_args(argv)
    X_train, y_train, texts, truth = load_split(args)
    clf = TokenSparseClassifier(args.model, max_epochs=args.max_epochs, device="cpu",
                                random_state=args.seeds[0]).fit(X_train, y_train)
    folder = Path(tempfile.mkdtemp(prefix="tsft_onnx_"))
    clf.export_onnx(folder / "fp32")
    clf.export_onnx(folder / "int8", quantize="int8")
    versions = {
        "torch fp32": clf,
        "ONNX fp32": TokenSparseClassifier.load(folder / "fp32", backend="onnx"),
        "ONNX int8": TokenSparseClassifier.load(folder / "int8", backend="onnx"),
    }
    seconds = {name: [] for name in versions}
    predictions = {}
    for _ in range(args.repeats):
        for name, model in versions.items():
            start = time.perf_counter()
            predictions[name] = model.predict(texts)
            seconds[name].append(time.perf_counter() - start)
    print(f"{len(X_train)} training texts, {len(texts)} test texts, CPU, "
          f"{torch.get_num_threads()} threads, {args.repeats} interleaved rounds\n")
    print("| version | texts/s (median) | vs torch fp32: median [min, max] | accuracy "
          "| file (MB) |\n|---|---|---|---|---|")
    reference = np.array(seconds["torch fp32"])
    for name in versions:
        ratios = reference / np.array(seconds[name])
        size = "" if name == "torch fp32" else (
            f"{(folder / name.split()[1] / 'model.onnx').stat().st_size / 2**20:.0f}")
        print(f"| {name} | {len(texts) / np.median(seconds[name]):.0f} | "
              f"{np.median(ratios):.2f}x [{ratios.min():.2f}, {ratios.max():.2f}] | "
              f"{accuracy_score(truth, predictions[name]):.4f} | {size} |")


if __name__ == "__main__":
    main()
