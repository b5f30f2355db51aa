"""Time one default fit at 10 texts per label and score it on 500 test texts.

Prints one JSON row (dataset, backbone, commit, fit seconds, score: macro-F1
on sms_spam, accuracy elsewhere). For before/after comparisons of fit time,
run it from two checkouts (``PYTHONPATH=<checkout>``) one fit after the
other on an idle machine, alternating which side goes first.

    python benchmarks/exploratory/fit_time.py banking77 default 0
"""

import json
import sys
from pathlib import Path

from sklearn_tsft.benchmark import measure, read_split

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from repository import data_dir, package_commit  # noqa: E402
from suite import DATASETS  # noqa: E402


def main(dataset, model, seed):
    label_column, metric = DATASETS[dataset]
    folder = data_dir() / dataset
    split = read_split(folder / "train.csv", folder / "test.csv", "text", label_column,
                       per_class=10, n_test=500)
    row = measure("token_sparse", split, seed, {"model": model, "verbose": 0})
    print(json.dumps({"dataset": dataset, "backbone": Path(model).name, "commit": package_commit(),
                      "seed": seed, "fit_s": round(row["fit_s"], 1),
                      metric: round(row[metric], 4)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
