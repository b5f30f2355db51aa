"""Test accuracy after every epoch of one fit: the diagnostic behind docs/method.md's curves.

Exploratory, not part of the suite: it passes the suite's test slice to the
fit as its validation split by replacing the private
``TokenSparseClassifier._split`` (the test texts take no part in training or
in the task-token and row selection, which see the training indices only),
so that ``history_`` records ``valid_acc`` on the test texts. Prints one
JSON line::

    python learning_curve.py DATASET {few-shot,n-train} STRATEGY EPOCHS SEED [PARAM=VALUE ...]
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

from sklearn_tsft import TokenSparseClassifier
from sklearn_tsft.benchmark import parse_assignment, read_split

# The suite's datasets and forms, from the benchmarks/ folder above.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from repository import data_dir  # noqa: E402
from suite import DATASETS, FORMS  # noqa: E402

QUICK = FORMS["quick"]


def main(dataset, size, strategy, epochs, seed, *params):
    folder = data_dir() / dataset
    X_train, y_train, X_test, y_test = read_split(
        folder / "train.csv", folder / "test.csv", "text", DATASETS[dataset][0],
        n_train=QUICK["n_train"] if size == "n-train" else None,
        per_class=10 if size == "few-shot" else None, n_test=QUICK["n_test"])
    n_train = len(X_train)
    TokenSparseClassifier._split = lambda self, n_texts, encoded, seed: (
        np.arange(n_train), np.arange(n_train, n_texts))
    extra = dict(parse_assignment(param) for param in params)
    clf = TokenSparseClassifier(strategy=strategy, max_epochs=int(epochs),
                                random_state=int(seed), **extra)
    start = time.perf_counter()
    clf.fit(list(X_train) + list(X_test), list(y_train) + list(y_test))
    print(json.dumps({
        "dataset": dataset, "size": size, "strategy": strategy, "epochs": int(epochs),
        "seed": int(seed), "params": extra, "fit_s": round(time.perf_counter() - start),
        "test_accuracy": [round(h["valid_acc"], 3) for h in clf.history_],
        "train_loss": [round(h["train_loss"], 3) for h in clf.history_],
    }))


if __name__ == "__main__":
    main(*sys.argv[1:])
