"""Compare training strategies and TF-IDF baselines on one dataset, in one run.

Every TokenSparseClassifier fit runs in a fresh child process, one after
another, with the same split, epochs and batch size, so that its wall time
and its peak memory (RSS above the child's baseline before ``fit`` on the
CPU, ``torch.cuda.max_memory_allocated`` on a GPU) are its own.

Example (the numbers in docs/benchmarks.md)::

    python benchmarks/compare.py --n-train 3000 --max-epochs 3 --seeds 0 1 2 \\
        --runs full token_sparse

A run is ``STRATEGY`` or ``STRATEGY:param=value,param=value`` (values are
Python literals), e.g. ``token_sparse:sparsity=0.005`` or
``token_sparse:n_layers=None``.
"""

import argparse
import ast
import concurrent.futures
import datetime
import json
import multiprocessing
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline, make_union
from sklearn.svm import LinearSVC

DATA = Path(os.environ.get("TSFT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def parse_run(spec):
    """``"token_sparse:sparsity=0.01"`` -> ``("token_sparse:sparsity=0.01", {...})``."""
    strategy, _, rest = spec.partition(":")
    params = {"strategy": strategy}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        params[key] = ast.literal_eval(value)
    return spec, params


def load_split(args):
    train = pd.read_csv(args.train)
    test = pd.read_csv(args.test)
    if args.n_train and args.n_train < len(train):
        # Stratified slice: every label keeps its share.
        fraction = args.n_train / len(train)
        train = train.groupby(args.label_column, group_keys=False).sample(
            frac=fraction, random_state=0)
    if args.n_test and args.n_test < len(test):
        test = test.sample(args.n_test, random_state=0)
    return (train[args.text_column].tolist(), train[args.label_column].to_numpy(),
            test[args.text_column].tolist(), test[args.label_column].to_numpy())


def scores(y_true, y_pred):
    return {"accuracy": accuracy_score(y_true, y_pred),
            "macro_f1": f1_score(y_true, y_pred, average="macro")}


def tfidf_features():
    return make_union(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
    )


def run_tfidf(name, model, split):
    X_train, y_train, X_test, y_test = split
    pipe = make_pipeline(tfidf_features(), model)
    start = time.perf_counter()
    pipe.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    y_pred = pipe.predict(X_test)
    predict_s = time.perf_counter() - start
    return {"run": name, "seed": None, "fit_s": fit_s, "peak_mem_mb": None,
            "n_trainable_params": None, "trainable_fraction": None,
            "texts_per_s": len(X_test) / predict_s, **scores(y_test, y_pred)}


def _rss_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def fit_in_child(name, params, split, seed, common):
    """One TokenSparseClassifier fit and evaluation (runs in a child process)."""
    import torch

    from sklearn_tsft import TokenSparseClassifier

    X_train, y_train, X_test, y_test = split
    clf = TokenSparseClassifier(**{**common, **params}, random_state=seed)
    on_gpu = torch.cuda.is_available() and clf.device in ("auto", "cuda")
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    baseline_mb = _rss_mb()
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    if on_gpu:
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - baseline_mb
    start = time.perf_counter()
    y_pred = clf.predict(X_test)
    predict_s = time.perf_counter() - start
    return {"run": name, "seed": seed, "fit_s": fit_s, "peak_mem_mb": peak_mb,
            "n_trainable_params": int(clf.n_trainable_params_),
            "trainable_fraction": float(clf.trainable_fraction_),
            "texts_per_s": len(X_test) / predict_s,
            "epochs_run": len(clf.history_), **scores(y_test, y_pred)}


def summarise(rows, reference="full"):
    """Mean and std over seeds per run; fit time relative to ``reference``."""
    frame = pd.DataFrame(rows)
    numeric = ["accuracy", "macro_f1", "fit_s", "peak_mem_mb", "texts_per_s",
               "n_trainable_params", "trainable_fraction"]
    table = frame.groupby("run", sort=False)[numeric].agg(["mean", "std"])
    if reference in table.index:
        for column in ("fit_s", "peak_mem_mb"):
            table[(column, "ratio")] = table[(column, "mean")] / table.loc[reference, (column, "mean")]
    return table


def markdown(table):
    def cell(run, column, stat, fmt):
        value = table.loc[run, (column, stat)] if (column, stat) in table.columns else np.nan
        return "" if pd.isna(value) else format(value, fmt)

    lines = ["| run | accuracy | macro-F1 | fit (s) | fit / full | peak train mem (MB) | mem / full "
             "| trainable params | trainable fraction | predict (texts/s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for run in table.index:
        acc = cell(run, "accuracy", "mean", ".4f")
        acc_std = cell(run, "accuracy", "std", ".4f")
        f1 = cell(run, "macro_f1", "mean", ".4f")
        f1_std = cell(run, "macro_f1", "std", ".4f")
        lines.append(
            f"| {run} | {acc}{' ± ' + acc_std if acc_std else ''} | "
            f"{f1}{' ± ' + f1_std if f1_std else ''} | {cell(run, 'fit_s', 'mean', '.1f')} | "
            f"{cell(run, 'fit_s', 'ratio', '.2f')} | {cell(run, 'peak_mem_mb', 'mean', '.0f')} | "
            f"{cell(run, 'peak_mem_mb', 'ratio', '.2f')} | "
            f"{cell(run, 'n_trainable_params', 'mean', ',.0f')} | "
            f"{cell(run, 'trainable_fraction', 'mean', '.4f')} | "
            f"{cell(run, 'texts_per_s', 'mean', '.0f')} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=DATA / "banking77" / "train.csv")
    parser.add_argument("--test", type=Path, default=DATA / "banking77" / "test.csv")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="category")
    parser.add_argument("--n-train", type=int, default=None, help="stratified training slice")
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--max-epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--runs", nargs="+", default=["full", "token_sparse"])
    parser.add_argument("--no-tfidf", action="store_true")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)

    split = load_split(args)
    print(f"{len(split[0])} training texts, {len(split[2])} test texts, "
          f"{len(set(split[1]))} labels", flush=True)
    rows = []
    if not args.no_tfidf:
        for name, model in [("tfidf+logreg", LogisticRegression(max_iter=3000)),
                            ("tfidf+linearsvc", LinearSVC())]:
            rows.append(run_tfidf(name, model, split))
            print(rows[-1], flush=True)
    common = {"max_epochs": args.max_epochs, "batch_size": args.batch_size, "device": args.device}
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context,
                                                max_tasks_per_child=1) as pool:
        for seed in args.seeds:
            for name, params in map(parse_run, args.runs):
                rows.append(pool.submit(fit_in_child, name, params, split, seed, common).result())
                print(rows[-1], flush=True)

    table = summarise(rows)
    text = markdown(table)
    print(text)
    device = "gpu" if args.device != "cpu" and _has_gpu() else "cpu"
    stem = f"{args.train.parent.name}-{device}-{datetime.date.today().isoformat()}"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    result = {"command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
              "settings": {k: str(v) for k, v in vars(args).items()},
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
              "n_train": len(split[0]), "n_test": len(split[2]), "rows": rows}
    (args.out_dir / f"{stem}.json").write_text(json.dumps(result, indent=2, default=float))
    (args.out_dir / f"{stem}.md").write_text(text + "\n")
    print(f"wrote {args.out_dir / stem}.json and .md")


def _has_gpu():
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    main()
