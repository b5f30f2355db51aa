"""Time one default fit at 10 texts per label and score it on 500 test texts.

Prints one JSON row (dataset, backbone, commit, fit seconds, score: macro-F1
on sms_spam, accuracy elsewhere). For before/after comparisons of fit time,
run it from two checkouts (``PYTHONPATH=<checkout>``) one fit after the
other on an idle machine, alternating which side goes first.

    python benchmarks/exploratory/fit_time.py banking77 default 0
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import sklearn_tsft
from sklearn.metrics import f1_score
from sklearn_tsft import TokenSparseClassifier
from sklearn_tsft.benchmark import read_split

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from repository import data_dir  # noqa: E402
from suite import DATASETS  # noqa: E402


def main(dataset, model, seed):
    label_column, metric = DATASETS[dataset]
    folder = data_dir() / dataset
    X, y, X_test, y_test = read_split(folder / "train.csv", folder / "test.csv", "text",
                                      label_column, per_class=10, n_test=500)
    clf = TokenSparseClassifier(model=model, random_state=seed)
    start = time.perf_counter()
    clf.fit(X, y)
    fit_s = time.perf_counter() - start
    predicted = clf.predict(X_test)
    score = (f1_score(y_test, predicted, average="macro") if metric == "macro_f1"
             else float((predicted == y_test).mean()))
    checkout = Path(sklearn_tsft.__file__).parents[1]
    commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    print(json.dumps({"dataset": dataset, "backbone": Path(model).name, "commit": commit,
                      "seed": seed, "fit_s": round(fit_s, 1), metric: round(score, 4)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
