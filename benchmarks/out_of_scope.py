"""Out-of-scope detection on banking77: intents held out of training play the out-of-scope texts.

Ten of the 77 intents, drawn with seed 0, are held out: the model trains on
the other 67 (``--per-class`` texts each, or a stratified ``--n-train``
slice), and the test set's texts of the ten held-out intents must score
below those of the 67. Each strategy is fitted once, in a fresh process,
with ``oos_score="mahalanobis"`` (so the class statistics exist), and every
score is read from that one fit. Reported per score: the area under the ROC
curve (in scope as the positive class) and the out-of-scope recall at the
threshold that rejects 5% of the in-scope test texts. Run from the
repository root::

    python benchmarks/out_of_scope.py --per-class 10
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from repository import DEFAULTS, ROOT, commit, data_dir, update_docs
from sklearn_tsft.benchmark import in_fresh_processes, parse_epochs, read_split, to_json
from sklearn_tsft.out_of_scope import OOS_SCORES

N_HELD_OUT = 10
IN_SCOPE_REJECTION = 0.05


def held_out_intents(labels, n=N_HELD_OUT, seed=0):
    """The intents kept out of training: ``n`` of the sorted labels, drawn with ``seed``."""
    return set(np.random.RandomState(seed).choice(sorted(set(labels)), n, replace=False))


def out_of_scope_split(folder, per_class=None, n_train=None):
    """banking77 without the held-out intents for training, and all of its test texts.

    Returns
    -------
    X_train, y_train, X_test, y_test, out_of_scope
        ``out_of_scope`` marks the test texts of the held-out intents.
    """
    X_train, y_train, X_test, y_test = read_split(
        folder / "train.csv", folder / "test.csv", "text", "category",
        per_class=per_class, n_train=n_train)
    held_out = held_out_intents(y_test)
    keep = np.array([label not in held_out for label in y_train])
    out_of_scope = np.array([label in held_out for label in y_test])
    return ([X_train[i] for i in np.flatnonzero(keep)], y_train[keep], X_test, y_test,
            out_of_scope)


def scope_metrics(scores, out_of_scope, rejection=IN_SCOPE_REJECTION):
    """AUROC (in scope positive) and out-of-scope recall at ``rejection`` of in-scope texts."""
    threshold = np.quantile(scores[~out_of_scope], rejection)
    return {"auroc": roc_auc_score(~out_of_scope, scores),
            "recall_at_5": float(np.mean(scores[out_of_scope] < threshold))}


def measure_scores(strategy, split, seed, max_epochs):
    """Fit one strategy on the in-scope texts; every score's metrics on the test texts."""
    from sklearn_tsft import TokenSparseClassifier

    X_train, y_train, X_test, y_test, out_of_scope = split
    clf = TokenSparseClassifier(strategy=strategy, oos_score="mahalanobis",
                                max_epochs=max_epochs, random_state=seed, verbose=0)
    clf.fit(X_train, y_train)
    in_scope = [X_test[i] for i in np.flatnonzero(~out_of_scope)]
    accuracy = float(np.mean(clf.predict(in_scope) == y_test[~out_of_scope]))
    rows = []
    for score in OOS_SCORES:
        scores = clf.set_params(oos_score=score).score_samples(X_test)
        rows.append({"strategy": strategy, "seed": seed, "score": score,
                     "in_scope_accuracy": accuracy, **scope_metrics(scores, out_of_scope)})
    return rows


def summary(frame):
    """Markdown: per strategy and score, mean AUROC and recall (and in-scope accuracy)."""
    table = frame.groupby(["strategy", "score"], sort=False).agg(
        in_scope_accuracy=("in_scope_accuracy", "mean"), auroc=("auroc", "mean"),
        auroc_std=("auroc", "std"), recall_at_5=("recall_at_5", "mean"),
        seeds=("seed", "count")).reset_index()
    table[["in_scope_accuracy", "recall_at_5"]] *= 100
    return table.to_markdown(index=False,
                             floatfmt=("", "", ".1f", ".4f", ".4f", ".1f", ".0f"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--per-class", type=int, default=10)
    size.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--strategies", nargs="+", default=["token_sparse", "full"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--max-epochs", type=parse_epochs, default=DEFAULTS["max_epochs"])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--docs-file", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    per_class = None if args.n_train is not None else args.per_class
    split = out_of_scope_split(data_dir() / "banking77", per_class, args.n_train)
    jobs = [(strategy, seed) for seed in args.seeds for strategy in args.strategies]
    rows = []
    for (strategy, seed), measured in zip(jobs, in_fresh_processes(
            measure_scores, [(strategy, split, seed, args.max_epochs) for strategy, seed in jobs])):
        rows.extend(measured)
        print(f"{strategy} seed={seed}: " + ", ".join(
            f"{row['score']} AUROC {row['auroc']:.4f} recall {row['recall_at_5']:.3f}"
            for row in measured), flush=True)
    table = summary(pd.DataFrame(rows))
    print(table)
    size_name = f"{per_class} per intent" if per_class else f"{len(split[0])} texts"
    stem = f"out-of-scope-banking77-{per_class}pc" if per_class else (
        f"out-of-scope-banking77-{len(split[0])}")
    revision = commit()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{stem}.json").write_text(to_json(
        {"settings": {key: str(value) for key, value in vars(args).items()},
         "commit": revision, "held_out": sorted(held_out_intents(split[3])), "rows": rows},
        indent=2))
    (args.out_dir / f"{stem}.md").write_text(table + "\n")
    if str(args.docs_file) != "none":
        command = "python benchmarks/out_of_scope.py " + (
            f"--per-class {per_class}" if per_class else f"--n-train {args.n_train}")
        update_docs(args.docs_file, stem, (
            f"Training on {len(split[0])} texts of 67 intents ({size_name}), "
            f"{int(split[4].sum())} out-of-scope and {int((~split[4]).sum())} in-scope test "
            f"texts, seeds {' '.join(map(str, args.seeds))}, commit `{revision}`:\n\n"
            f"    {command}\n\n{table}\n"))


if __name__ == "__main__":
    main()
