"""The comparison benchmark: TF-IDF baselines and every strategy on one dataset.

Each run (a TF-IDF pipeline, or ``TokenSparseClassifier`` with one
strategy) is fitted in a fresh child process, one after another, with the
same split, seed, epochs and batch size, so that its wall time and peak
memory are its own: peak RSS above the child's RSS just before ``fit`` on
the CPU, ``torch.cuda.max_memory_allocated`` on a GPU.

Run from the command line as ``tsft bench --train TABLE --test TABLE``; the
repository's own benchmark (its data folder, its docs page) is
``benchmarks/compare.py``, built on this module.
A run is ``NAME`` or ``NAME:param=value,...`` where ``NAME`` is a strategy
or ``tfidf+logreg``/``tfidf+linearsvc`` and values are Python literals or bare words,
e.g. ``token_sparse:sparsity=0.01``.
"""

import argparse
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
from sklearn.metrics import accuracy_score, f1_score

from ._json import json_default
from ._params import parse_assignment, parse_epochs
from .tables import column, read_table

# The names benchmark scripts may use (parse_epochs: the --max-epochs type).
__all__ = ["add_arguments", "check_runs", "in_fresh_processes", "load_split", "main",
           "measure", "parse_assignment", "parse_epochs", "parse_run", "read_split", "run",
           "summarise", "tfidf_pipeline", "to_json"]

SCHEMA_VERSION = 1
TFIDF_RUNS = ("tfidf+logreg", "tfidf+linearsvc")
DEFAULT_RUNS = (
    *TFIDF_RUNS, "full", "head", "bitfit", "layers", "lora", "prefix",
    "token_sparse:sparsity=0.01", "token_sparse", "token_sparse:sparsity=0.2",
)
# --quick: a stratified slice of the training set and a random slice of the
# test set, sized so that every default run finishes in under 20 minutes on
# two CPU cores.
QUICK = {"n_train": 1000, "n_test": 1000}
REFERENCE_RUN = "full"
MEASURED = ("accuracy", "macro_f1", "fit_s", "peak_mem_mb", "n_trainable_params", "texts_per_s")


def to_json(data, **kwargs):
    """``json.dumps`` of results that hold numpy scalars (skorch's history, metric values).

    Examples
    --------
    >>> import numpy as np
    >>> to_json({"accuracy": np.float32(0.5)})
    '{"accuracy": 0.5}'
    """
    return json.dumps(data, default=json_default, **kwargs)


def add_arguments(parser, train=None, test=None):
    """Add the benchmark's options to an ``argparse`` parser.

    ``--train`` and ``--test`` are required unless ``train`` and ``test``
    give default tables (as this repository's own scripts do).
    """
    parser.add_argument("--train", type=Path, default=train, required=train is None,
                        help="training table (csv, tsv or jsonl)")
    parser.add_argument("--test", type=Path, default=test, required=test is None,
                        help="test table")
    parser.add_argument("--text-column", default="text", help="column of the texts")
    parser.add_argument("--label-column", default="label", help="column of the labels")
    parser.add_argument("--dataset", help="name used in result files (default: the "
                        "training table's folder name)")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK['n_train']} stratified training texts and "
                        f"{QUICK['n_test']} test texts (under 20 minutes on two CPU cores)")
    parser.add_argument("--n-train", type=int, help="stratified training slice")
    parser.add_argument("--per-class", type=int,
                        help="few-shot slice: this many training texts of each label")
    parser.add_argument("--n-test", type=int, help="random test slice")
    from .classifier import TokenSparseClassifier

    default = TokenSparseClassifier().get_params()  # one source of the defaults
    parser.add_argument("--model", default=default["model"],
                        help="backbone: the packaged MiniLM ('default'), a directory or a Hub id")
    parser.add_argument("--max-epochs", type=parse_epochs, default=default["max_epochs"],
                        help="passes over the data, or 'auto'")
    parser.add_argument("--batch-size", type=int, default=default["batch_size"],
                        help="texts per optimizer step")
    parser.add_argument("--device", default=default["device"], help="'auto', 'cpu', 'cuda', ...")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one fit per seed")
    parser.add_argument("--runs", nargs="+", default=list(DEFAULT_RUNS),
                        help="what to fit: strategies (NAME or NAME:param=value,...) and "
                        "tfidf+linearsvc")
    parser.add_argument("--out-dir", type=Path, default=Path("tsft_bench"),
                        help="folder of the JSON, markdown and PNG results")
    parser.add_argument("--verbose", action="store_true", help="show each fit's progress bar")
    return parser


def parse_run(spec):
    """Split a run specification into its name and its parameters.

    Parameters
    ----------
    spec : str
        ``NAME`` or ``NAME:param=value,...``; values as in :func:`parse_assignment`.

    Returns
    -------
    name : str
    params : dict

    Examples
    --------
    >>> parse_run("token_sparse:sparsity=0.01,n_layers=None")
    ('token_sparse', {'sparsity': 0.01, 'n_layers': None})
    """
    name, _, rest = spec.partition(":")
    try:
        params = dict(parse_assignment(item) for item in filter(None, rest.split(",")))
    except ValueError as exc:
        raise ValueError(f"run {spec!r}: {exc}") from exc
    return name, params


def check_runs(specs):
    """Fail on a malformed run or an unknown name before anything is fitted."""
    from .strategies import available_strategies

    known = [*TFIDF_RUNS, *available_strategies()]
    for spec in specs:
        name, _ = parse_run(spec)
        if name not in known:
            raise ValueError(f"run {spec!r}: unknown name {name!r}; use one of {', '.join(known)}.")


def load_split(args):
    """Texts and labels of the (sliced) training and test tables."""
    n_train = args.n_train or (QUICK["n_train"] if args.quick else None)
    n_test = args.n_test or (QUICK["n_test"] if args.quick else None)
    return read_split(args.train, args.test, args.text_column, args.label_column,
                      n_train=n_train, per_class=args.per_class, n_test=n_test)


def read_split(train_path, test_path, text_column, label_column, *, n_train=None,
               per_class=None, n_test=None):
    """Read a training and a test table and slice them (seed 0).

    Parameters
    ----------
    train_path, test_path : path-like
        Tables (csv, tsv or jsonl).
    text_column, label_column : str
        Their columns.
    n_train : int or None, default=None
        A stratified slice of about this many training texts: every label
        keeps its share, and at least one text.
    per_class : int or None, default=None
        Instead of ``n_train``: this many training texts of each label (all
        of a label's texts when it has fewer), the few-shot setting.
    n_test : int or None, default=None
        A random slice of this many test texts.

    Returns
    -------
    X_train : list of str
    y_train : ndarray
    X_test : list of str
    y_test : ndarray
    """
    train, test = read_table(train_path), read_table(test_path)
    labels = column(train, label_column, train_path)
    if per_class is not None:
        shuffled = train.sample(frac=1, random_state=0)
        train = shuffled.groupby(labels.loc[shuffled.index], sort=False).head(per_class)
    elif n_train and n_train < len(train):
        train = train.groupby(labels, group_keys=False).sample(
            frac=n_train / len(train), random_state=0)
    if n_test and n_test < len(test):
        test = test.sample(n_test, random_state=0)
    return (column(train, text_column, train_path).astype(str).tolist(),
            column(train, label_column, train_path).to_numpy(),
            column(test, text_column, test_path).astype(str).tolist(),
            column(test, label_column, test_path).to_numpy())


def tfidf_pipeline(name):
    """TF-IDF of word 1-2-grams and char_wb 2-5-grams, then a linear model."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.svm import LinearSVC

    model = {"tfidf+logreg": LogisticRegression(max_iter=3000), "tfidf+linearsvc": LinearSVC()}
    features = make_union(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
    )
    return make_pipeline(features, model[name])


def _rss_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(spec, split, seed, common):
    """Fit and evaluate one run; meant to run alone in a child process."""
    import torch

    from sklearn_tsft import TokenSparseClassifier

    name, params = parse_run(spec)
    X_train, y_train, X_test, y_test = split
    if name in TFIDF_RUNS:
        estimator, on_gpu = tfidf_pipeline(name).set_params(**params), False
    else:
        estimator = TokenSparseClassifier(**{**common, "strategy": name, **params},
                                          random_state=seed)
        on_gpu = torch.cuda.is_available() and estimator.device in ("auto", "cuda")
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    baseline_mb = _rss_mb()
    start = time.perf_counter()
    estimator.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    if on_gpu:
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - baseline_mb
    start = time.perf_counter()
    y_pred = estimator.predict(X_test)
    predict_s = time.perf_counter() - start
    if name in TFIDF_RUNS:
        linear = estimator[-1]
        n_trainable, fraction, epochs = linear.coef_.size + linear.intercept_.size, None, None
    else:
        n_trainable = estimator.n_trainable_params_
        fraction, epochs = float(estimator.trainable_fraction_), len(estimator.history_)
    return {"run": spec, "strategy": name, "params": params, "seed": seed,
            "accuracy": accuracy_score(y_test, y_pred),
            "macro_f1": f1_score(y_test, y_pred, average="macro"),
            "fit_s": fit_s, "peak_mem_mb": peak_mb, "n_trainable_params": int(n_trainable),
            "trainable_fraction": fraction, "texts_per_s": len(X_test) / predict_s,
            "epochs_run": epochs}


def in_fresh_processes(function, argument_tuples):
    """Yield ``function(*arguments)`` for each tuple, each call alone in a new process.

    One call at a time, in a spawned child that exits after it, so that the
    call's time and peak memory are its own and nothing (threads, caches,
    CUDA state) carries over from the call before.
    """
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context,
                                                max_tasks_per_child=1) as pool:
        for arguments in argument_tuples:
            yield pool.submit(function, *arguments).result()


def add_fit_ratios(rows):
    """Each row's fit time relative to the reference run of the same seed."""
    reference = {row["seed"]: row["fit_s"] for row in rows if row["run"] == REFERENCE_RUN}
    for row in rows:
        base = reference.get(row["seed"])
        row["fit_ratio"] = row["fit_s"] / base if base else None
    return rows


def summarise(rows):
    """Mean and standard deviation over seeds of each run's measured values."""
    frame = pd.DataFrame(rows)
    numeric = [*MEASURED, "trainable_fraction", "fit_ratio"]
    frame[numeric] = frame[numeric].astype(float)
    grouped = frame.groupby("run", sort=False)
    summary = grouped[numeric].mean()
    summary["accuracy_std"] = grouped["accuracy"].std()
    summary["macro_f1_std"] = grouped["macro_f1"].std()
    summary["n_seeds"] = grouped.size()
    return summary


def markdown(summary):
    """The summary as a markdown table (mean ± std over seeds)."""
    def number(value, fmt):
        return "" if pd.isna(value) else format(value, fmt)

    def with_std(mean, std):
        return number(mean, ".4f") + ("" if pd.isna(std) else f" ± {std:.4f}")

    lines = ["| run | accuracy | macro-F1 | fit (s) | fit / full | peak train mem (MB) "
             "| trainable params | trainable fraction | predict (texts/s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for run, row in summary.iterrows():
        lines.append(
            f"| {run} | {with_std(row.accuracy, row.accuracy_std)} | "
            f"{with_std(row.macro_f1, row.macro_f1_std)} | {number(row.fit_s, '.1f')} | "
            f"{number(row.fit_ratio, '.2f')} | {number(row.peak_mem_mb, '.0f')} | "
            f"{number(row.n_trainable_params, ',.0f')} | "
            f"{number(row.trainable_fraction, '.4f')} | {number(row.texts_per_s, '.0f')} |")
    return "\n".join(lines)


def plot(summary, path):
    """Accuracy against fit time, and against the trainable fraction, as a PNG.

    Returns False (and draws nothing) when matplotlib is not installed.
    """
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (by_time, by_fraction) = plt.subplots(1, 2, figsize=(12, 5))
    for run, row in summary.iterrows():
        error = None if pd.isna(row.accuracy_std) else row.accuracy_std
        by_time.errorbar(row.fit_s, row.accuracy, yerr=error, fmt="o")
        by_time.annotate(run, (row.fit_s, row.accuracy), fontsize=8,
                         textcoords="offset points", xytext=(4, 4))
        if not pd.isna(row.trainable_fraction):
            by_fraction.errorbar(row.trainable_fraction, row.accuracy, yerr=error, fmt="o")
            by_fraction.annotate(run, (row.trainable_fraction, row.accuracy), fontsize=8,
                                 textcoords="offset points", xytext=(4, 4))
    sparse = summary[summary.index.str.startswith("token_sparse")].sort_values("trainable_fraction")
    by_fraction.plot(sparse.trainable_fraction, sparse.accuracy, "k--", lw=1,
                     label="token_sparse at several sparsities")
    by_time.set(xscale="log", xlabel="training wall time (s, log)", ylabel="test accuracy",
                title="accuracy against training time")
    # symlog: the frozen-backbone "head" run sits at 0.
    by_fraction.set_xscale("symlog", linthresh=1e-4)
    by_fraction.set(xlabel="trainable fraction of the backbone (symlog)",
                    ylabel="test accuracy", title="accuracy against sparsity")
    by_fraction.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _device_name(device):
    import torch

    return "gpu" if device != "cpu" and torch.cuda.is_available() else "cpu"


def run(args, log=print):
    """Run the benchmark described by parsed ``args``; return the result dict.

    Parameters
    ----------
    args : argparse.Namespace
        The options of :func:`add_arguments` (as ``tsft bench`` parses them).
    log : callable, default=print
        Receives each progress line and the final table.

    Returns
    -------
    result : dict
        What is written to ``<out_dir>/<stem>.json`` (``stem``:
        ``<dataset>-<device>-<date>``, ``-quick`` added for ``--quick``):
        ``rows`` (one per run and seed) and ``summary`` (per run), with the
        command, settings, machine and data sizes. The markdown table and
        the plot are ``<stem>.md`` and ``<stem>.png`` beside it.

    Examples
    --------
    >>> import argparse
    >>> args = add_arguments(argparse.ArgumentParser()).parse_args(
    ...     ["--train", "train.csv", "--test", "test.csv", "--quick",
    ...      "--runs", "tfidf+linearsvc", "token_sparse"])
    >>> result = run(args)  # doctest: +SKIP
    """
    check_runs(args.runs)
    runs = args.runs
    split = load_split(args)
    dataset = args.dataset or args.train.resolve().parent.name
    log(f"{dataset}: {len(split[0])} training texts, {len(split[2])} test texts, "
        f"{len(set(split[1]))} labels; {len(runs)} runs x {len(args.seeds)} seeds")
    common = {"model": args.model, "max_epochs": args.max_epochs,
              "batch_size": args.batch_size, "device": args.device,
              "verbose": int(args.verbose)}
    rows, jobs = [], [(seed, spec) for seed in args.seeds for spec in runs]
    started = time.perf_counter()
    results = in_fresh_processes(measure, [(spec, split, seed, common) for seed, spec in jobs])
    for done, ((seed, spec), row) in enumerate(zip(jobs, results), 1):
        rows.append(row)
        log(f"[{done}/{len(jobs)}] {spec} seed={seed}: accuracy {row['accuracy']:.4f}, "
            f"fit {row['fit_s']:.1f} s ({time.perf_counter() - started:.0f} s so far)")
    summary = summarise(add_fit_ratios(rows))
    device = _device_name(args.device)
    stem = f"{dataset}-{device}-{datetime.date.today().isoformat()}{'-quick' if args.quick else ''}"
    result = {
        "stem": stem,
        "schema_version": SCHEMA_VERSION,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "dataset": dataset, "device": device, "date": datetime.date.today().isoformat(),
        "settings": {key: str(value) for key, value in vars(args).items()},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "n_train": len(split[0]), "n_test": len(split[2]), "n_labels": len(set(split[1])),
        "rows": rows,
        "summary": json.loads(summary.reset_index().to_json(orient="records")),
    }
    table = markdown(summary)
    log(table)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.out_dir / f"{stem}.json"
    json_path.write_text(to_json(result, indent=2))
    (args.out_dir / f"{stem}.md").write_text(table + "\n")
    written = [json_path, args.out_dir / f"{stem}.md"]
    if plot(summary, args.out_dir / f"{stem}.png"):
        written.append(args.out_dir / f"{stem}.png")
    else:
        log("matplotlib is not installed, so no plot: pip install 'sklearn-tsft[bench]'")
    log("wrote " + ", ".join(map(str, written)))
    return result


def main(argv=None):
    """Parse ``argv`` as ``tsft bench`` does and run the benchmark; return the result."""
    parser = add_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    args = parser.parse_args(argv)
    return run(args, log=(lambda *_: None) if args.quiet else print)
