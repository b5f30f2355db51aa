"""The benchmark suite: the competing strategies on every dataset of ``../shared/data``.

Each dataset at two sizes (few-shot, ``--per-class`` texts of each label;
and ``--n-train`` texts, stratified), the rival strategies with one or
several seeds at the default training budget (``max_epochs="auto"``) and
with one seed at the other budgets (multiples of that number of epochs),
plus TF-IDF + LinearSVC and, when the ``setfit`` package is installed
(``pip install 'sklearn-tsft[setfit]'``), SetFit on the same backbone with
its own default training loop, at the few-shot size it is made for. Every
fit runs alone in a fresh process (``sklearn_tsft.benchmark``).

The backbone (``--model``) is a dimension of its own: each row records it
by name and by a hash of its config (never a machine path), and each
backbone has its own rows file, report, targets table and plots, named
``suite-<device>-<form>-<backbone>``.

Each finished fit is appended to ``<out-dir>/<stem>.jsonl`` at once, and a
rerun of the same command skips the fits found there: an interrupted suite
picks up where it stopped (delete the file to start over). At the end,
``<stem>.json`` (every row and the summary), ``<stem>.md`` (the summary
tables) and one ``<stem>-<dataset>.png`` per dataset (the metric against
fit time, one curve per strategy through its budgets) are written, and the
suite's section of ``docs/benchmarks.md`` is replaced.

Three forms (``FORMS``):

* ``--quick``: 500-text slices, one seed at the default budget of
  token_sparse, full and lora, plus TF-IDF, on the eight cells: about an
  hour on two CPU cores with MiniLM. ``python benchmarks/suite.py --quick``
* ``--standard``: the 3-seed form that ``docs/benchmarks.md`` reports
  (bitfit too, a third of the budget as well, SetFit at the few-shot
  size): about 6.5 hours of one-core fit time with MiniLM, so run in parts,
  one per core, then ``--report``; parts run with their own ``--out-dir``
  (another checkout, a refit) come in with ``--merge``::

      python benchmarks/suite.py --standard --datasets sms_spam --sizes few-shot
      python benchmarks/suite.py --standard --report
      python benchmarks/suite.py --standard --merge part/suite-cpu-standard-all-MiniLM-L6-v2.jsonl

* neither: the GPU form (all test texts, 2,000 training texts, budgets
  1/3 to 5/3, every rival and SetFit).
"""

import argparse
import datetime
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from repository import DEFAULTS, ROOT, commit, data_dir, update_docs
from sklearn_tsft.backbone import backbone_name, config_digest, resolve_model
from sklearn_tsft.benchmark import in_fresh_processes, measure, parse_epochs, read_split, to_json
from sklearn_tsft.training import resolve_max_epochs

SCHEMA_VERSION = 1
# name: (label column, the metric the suite reports). sms_spam is
# imbalanced, so macro-F1 says more there than accuracy.
DATASETS = {
    "banking77": ("category", "accuracy"),
    "twenty_newsgroups": ("label", "accuracy"),
    "rotten_tomatoes": ("label", "accuracy"),
    "sms_spam": ("label", "macro_f1"),
}
RIVALS = ("token_sparse", "full", "lora", "bitfit")
REFERENCE = "full"
TFIDF = "tfidf+linearsvc"
SETFIT = "setfit"
FORMS = {
    # The GPU form.
    "full": {"n_train": 2000, "n_test": None, "budgets": (1 / 3, 2 / 3, 1, 5 / 3),
             "seeds": (0, 1, 2), "strategies": RIVALS, "extras": (TFIDF, SETFIT),
             "setfit_max_pairs": None},
    # 130 fits of at least 100 optimizer steps each: about 6.5 hours of
    # one-core fit time on MiniLM (docs/benchmarks.md), so it is meant to run
    # in parts (--datasets, --sizes) that the rows file resumes. SetFit's
    # default sampling trains on every unique pair of texts: 585,200 for
    # banking77's 770 few-shot texts, about 15 hours on a CPU core, so this
    # form caps SetFit at 8,000 pairs (max_steps, recorded in its rows).
    "standard": {"n_train": 500, "n_test": 500, "budgets": (1 / 3, 1), "seeds": (0, 1, 2),
                 "strategies": RIVALS, "extras": (TFIDF, SETFIT), "setfit_max_pairs": 8_000},
    # 8 cells x (3 strategies + TF-IDF): about an hour on two cores on MiniLM.
    "quick": {"n_train": 500, "n_test": 500, "budgets": (1,), "seeds": (0,),
              "strategies": ("token_sparse", "full", "lora"), "extras": (TFIDF,),
              "setfit_max_pairs": 8_000},
}
# SetFit's default batch: pairs per optimizer step.
SETFIT_BATCH_SIZE = 16


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--quick", action="store_const", dest="form", const="quick",
                      default="full", help="500-text slices, one seed of token_sparse, full "
                      "and lora at the default budget, TF-IDF (about an hour on two CPU cores)")
    form.add_argument("--standard", action="store_const", dest="form", const="standard",
                      help="500-text slices, 3 seeds of every rival, two budgets, SetFit "
                      "(about 6.5 hours of one-core fit time; run it in parts with "
                      "--datasets and --sizes); neither flag: the GPU form")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--sizes", nargs="+", default=["few-shot", "n-train"],
                        choices=["few-shot", "n-train"])
    parser.add_argument("--per-class", type=int, default=10,
                        help="few-shot size: training texts per label (default: %(default)s)")
    parser.add_argument("--n-train", type=int, help="the larger size (default: 2000, quick 500)")
    parser.add_argument("--n-test", type=int, help="test texts (default: all, quick 500)")
    parser.add_argument("--strategies", nargs="+",
                        help="rival strategies (default: the form's; all of them: "
                        f"{' '.join(RIVALS)})")
    parser.add_argument("--budgets", type=float, nargs="+",
                        help="multiples of the default number of epochs (default: 1/3 2/3 1 "
                        "5/3, standard 1/3 1, quick 1); seeds run at 1, one seed at the others")
    parser.add_argument("--seeds", type=int, nargs="+",
                        help="default: 0 1 2, quick 0")
    parser.add_argument("--extras", nargs="*", choices=[TFIDF, SETFIT],
                        help="rows besides the strategies (SetFit at the few-shot size, when "
                        f"installed; default: {TFIDF} {SETFIT}, quick {TFIDF})")
    parser.add_argument("--setfit-max-pairs", type=int,
                        help="cap SetFit's contrastive stage at this many pairs where its "
                        "default sampling makes more (default: none for the GPU form, 8000 "
                        "otherwise); the cap lands in its rows and the table")
    parser.add_argument("--max-epochs", type=parse_epochs, default=DEFAULTS["max_epochs"],
                        help="the default budget (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"])
    parser.add_argument("--model", default=DEFAULTS["model"],
                        help="backbone: 'default' (the packaged MiniLM), a local directory "
                        "or a Hub id; rows, report and plots are per backbone")
    parser.add_argument("--device", default=DEFAULTS["device"])
    parser.add_argument("--data-dir", type=Path, default=data_dir())
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--docs-file", type=Path, default=ROOT / "docs" / "benchmarks.md",
                        help="markdown file whose suite section is replaced; 'none' to "
                        "leave docs alone")
    parser.add_argument("--report", action="store_true",
                        help="fit nothing: write the results from the rows already in the "
                        "rows file (for a suite run in parts)")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="ROWS_FILE",
                        help="fit nothing: merge the rows files of parts run with another "
                        "--out-dir into this one's rows file (a part's row for a fit the file "
                        "holds replaces it, and the old row moves to STEM-superseded.jsonl), "
                        "then report as --report does")
    parser.add_argument("--quiet", action="store_true")
    return parser


def settings(args):
    """The form's defaults filled in where ``args`` leaves them open."""
    form = FORMS[args.form]
    return {
        "n_train": args.n_train or form["n_train"],
        "n_test": args.n_test or form["n_test"],
        "budgets": tuple(args.budgets or form["budgets"]),
        "seeds": tuple(form["seeds"] if args.seeds is None else args.seeds),
        "strategies": tuple(args.strategies or form["strategies"]),
        "extras": tuple(form["extras"] if args.extras is None else args.extras),
        "setfit_max_pairs": args.setfit_max_pairs or form["setfit_max_pairs"],
    }


def backbone_identity(model):
    """``{"backbone": name, "backbone_config": digest}``: what every row records of ``--model``."""
    from transformers import AutoConfig

    location, local_only = resolve_model(model)
    config = AutoConfig.from_pretrained(location, local_files_only=local_only)
    return {"backbone": backbone_name(model), "backbone_config": config_digest(config)}


def stem_of(args, backbone):
    """The file stem of a suite's results: device, form and backbone."""
    return f"suite-{device_name(args.device)}-{args.form}-{backbone['backbone'].split('/')[-1]}"


def load(args, dataset, size, config):
    label_column, _ = DATASETS[dataset]
    folder = args.data_dir / dataset
    if not (folder / "train.csv").exists():
        raise FileNotFoundError(
            f"{folder / 'train.csv'} not found: point --data-dir (or $TSFT_DATA) at the "
            "folder that holds the suite's datasets.")
    return read_split(folder / "train.csv", folder / "test.csv", "text", label_column,
                      n_train=config["n_train"] if size == "n-train" else None,
                      per_class=args.per_class if size == "few-shot" else None,
                      n_test=config["n_test"])


def plan(args, config, size, labels):
    """The fits of one dataset and size, given its training labels: ``(run, budget, epochs, seed)`` tuples.

    For SetFit, ``epochs`` is its ``max_steps``: None for its default
    sampling, or the steps of ``setfit_max_pairs`` pairs where that samples more.
    """
    default = resolve_max_epochs(args.max_epochs, len(labels), args.batch_size)
    seeds = config["seeds"]
    jobs = []
    for strategy in config["strategies"]:
        for budget in config["budgets"]:
            epochs = max(1, round(budget * default))
            for seed in (seeds if budget == 1 else seeds[:1]):
                jobs.append((strategy, budget, epochs, seed))
    if TFIDF in config["extras"]:
        jobs.append((TFIDF, 1, None, seeds[0]))
    # A report fits nothing, so it keeps SetFit rows without the package.
    if SETFIT in config["extras"] and size == "few-shot" and (args.report or setfit_installed()):
        limit = config["setfit_max_pairs"]
        max_steps = (None if limit is None or setfit_pairs(labels) <= limit
                     else limit // SETFIT_BATCH_SIZE)
        jobs += [(SETFIT, 1, max_steps, seed) for seed in seeds]
    return jobs


def setfit_pairs(labels):
    """Unique text pairs that SetFit's default sampling trains on.

    Twice the larger of the same-label and the different-label pairs.

    >>> setfit_pairs(["a"] * 10 + ["b"] * 10)
    200
    """
    counts = np.unique(labels, return_counts=True)[1]
    same = int((counts * (counts - 1) // 2).sum())
    return 2 * max(same, len(labels) * (len(labels) - 1) // 2 - same)


def setfit_installed():
    try:
        import setfit  # noqa: F401
    except ImportError:
        return False
    return True


def measure_setfit(split, seed, model, max_steps=None):
    """Fit and score SetFit with its default training arguments (child process).

    ``max_steps`` caps its contrastive stage (None: SetFit's default, every
    unique pair).
    """
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    from sklearn_tsft.backbone import resolve_model

    X_train, y_train, X_test, y_test = split
    classes, encoded = np.unique(y_train, return_inverse=True)
    location, _ = resolve_model(model)
    start = time.perf_counter()
    setfit_model = SetFitModel.from_pretrained(location)
    with tempfile.TemporaryDirectory() as checkpoints:  # SetFit saves one by default
        trainer = Trainer(model=setfit_model,
                          args=TrainingArguments(seed=seed, output_dir=checkpoints,
                                                 max_steps=max_steps or -1),
                          train_dataset=Dataset.from_dict({"text": X_train, "label": encoded}))
        trainer.train()
    fit_s = time.perf_counter() - start
    y_pred = classes[np.asarray(setfit_model.predict(X_test))]
    return {"run": SETFIT, "strategy": SETFIT,
            "params": {} if max_steps is None else {"max_steps": max_steps},
            "max_steps": max_steps, "seed": seed,
            "accuracy": accuracy_score(y_test, y_pred),
            "macro_f1": f1_score(y_test, y_pred, average="macro"), "fit_s": fit_s,
            "peak_mem_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "epochs_run": None}


def fit_one(job, split, args):
    """Fit and score one job of :func:`plan` (in a child process)."""
    run, _, epochs, seed = job
    if run == SETFIT:
        return measure_setfit(split, seed, args.model, max_steps=epochs)
    common = {"model": args.model, "batch_size": args.batch_size, "device": args.device,
              "verbose": 0, "max_epochs": epochs}
    return measure(run, split, seed, common)


def job_key(dataset, size, job):
    run, budget, _, seed = job
    return (dataset, size, run, round(budget, 4), seed)


def read_rows(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_suite(args, log=print, runner=in_fresh_processes):
    """Run (or resume) every fit of the suite; return its file stem and all rows.

    ``runner(function, argument_tuples)`` yields the fits' results; the
    default runs each in a fresh process. Each row records the commit it
    was fitted at: after a change to a strategy, delete its rows from the
    rows file to refit them.
    """
    config = settings(args)
    backbone = backbone_identity(args.model)
    stem = stem_of(args, backbone)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rows_path = args.out_dir / f"{stem}.jsonl"
    rows_in_file = checked_rows(read_rows(rows_path), backbone, rows_path)
    if args.merge:
        rows_in_file = merge_rows(rows_path, rows_in_file, args.merge, backbone)
    done = {row_key(row): row for row in rows_in_file}
    revision = commit()
    rows, started = [], time.perf_counter()
    for dataset in args.datasets:
        for size in args.sizes:
            split = load(args, dataset, size, config)
            jobs = plan(args, config, size, split[1])
            todo = [] if args.report or args.merge else [
                job for job in jobs if job_key(dataset, size, job) not in done]
            rows += [done[job_key(dataset, size, job)] for job in jobs
                     if job_key(dataset, size, job) in done]
            log(f"{dataset} / {size}: {len(split[0])} training texts, {len(split[2])} test "
                f"texts; {len(todo)} of {len(jobs)} fits to run")
            results = runner(fit_one, [(job, split, args) for job in todo])
            for job, result in zip(todo, results):
                row = {"dataset": dataset, "size": size, "n_train": len(split[0]),
                       "n_test": len(split[2]), "budget": round(job[1], 4),
                       "epochs": None if job[0] == SETFIT else job[2],
                       "commit": revision, **backbone, **result}
                row["score"] = row[DATASETS[dataset][1]]
                with rows_path.open("a") as out:
                    out.write(to_json(row) + "\n")
                rows.append(row)
                log(f"  {job[0]} budget={job[1]:.2f} epochs={job[2]} seed={job[3]}: "
                    f"{DATASETS[dataset][1]} {row['score']:.4f}, fit {row['fit_s']:.1f} s "
                    f"({time.perf_counter() - started:.0f} s so far)")
    return stem, rows


def checked_rows(rows, backbone, path):
    """The rows of a rows file, refused if any was fitted on another backbone."""
    for row in rows:
        fitted_on = {key: row.get(key) for key in backbone}
        if fitted_on != backbone:
            raise ValueError(
                f"{path} holds a row fitted on {fitted_on}, not on {backbone} (the --model "
                "given): a different backbone under the same name. Move that file away or "
                "give --out-dir another folder.")
    return rows


def merge_rows(rows_path, rows, part_paths, backbone):
    """Merge the rows files ``part_paths`` (parts of a suite run elsewhere) into ``rows_path``.

    ``rows`` are the rows ``rows_path`` holds. A part's row replaces the
    row of the same fit (``row_key``); a replaced row that differs from its
    replacement is kept in ``<stem>-superseded.jsonl`` beside it, so
    merging a part twice moves nothing. Returns the merged rows.
    """
    parts = {}
    for path in part_paths:
        if not path.is_file():
            raise FileNotFoundError(f"--merge: {path} not found: give the rows file "
                                    "(STEM.jsonl) that a part of the suite wrote")
        parts.update((row_key(row), row) for row in checked_rows(read_rows(path), backbone, path))
    replaced = [row for row in rows if parts.get(row_key(row), row) != row]
    merged = [*(row for row in rows if row_key(row) not in parts), *parts.values()]
    rows_path.write_text("".join(to_json(row) + "\n" for row in merged))
    if replaced:
        superseded = rows_path.with_name(f"{rows_path.stem}-superseded.jsonl")
        with superseded.open("a") as out:
            out.writelines(to_json(row) + "\n" for row in replaced)
    return merged


def row_key(row):
    return (row["dataset"], row["size"], row["run"], round(row["budget"], 4), row["seed"])


def device_name(device):
    import torch

    return "gpu" if device != "cpu" and torch.cuda.is_available() else "cpu"


def summarise(rows):
    """Mean and std over seeds per dataset, size, run and budget, with fit / full."""
    frame = pd.DataFrame(rows)
    if "max_steps" not in frame:  # no SetFit row, or only rows from before the cap
        frame["max_steps"] = None
    keys = ["dataset", "size", "run", "budget"]
    grouped = frame.groupby(keys, sort=False)
    summary = grouped.agg(score=("score", "mean"), score_std=("score", "std"),
                          fit_s=("fit_s", "mean"), epochs=("epochs", "first"),
                          n_train=("n_train", "first"), n_seeds=("seed", "size"),
                          max_steps=("max_steps", "first")).reset_index()
    reference = summary[(summary.run == REFERENCE) & (summary.budget == 1)].set_index(
        ["dataset", "size"]).fit_s
    summary["fit_ratio"] = [
        row.fit_s / reference.get((row.dataset, row.size), np.nan)
        for row in summary.itertuples()]
    return summary


def _cell(row, n_seeds):
    if row is None:
        return ""
    std = "" if pd.isna(row.score_std) else f" ± {100 * row.score_std:.1f}"
    # Rows fitted with fewer seeds than the others (an interrupted run) say so.
    fewer = f", {row.n_seeds} seeds" if 1 < row.n_seeds < n_seeds else ""
    capped = "" if pd.isna(row.max_steps) else f", {row.max_steps:.0f} steps"
    # A cell without a full-finetuning row has no ratio to show.
    ratio = "no full row" if pd.isna(row.fit_ratio) else f"{row.fit_ratio:.2f}x"
    return f"{100 * row.score:.1f}{std} ({ratio}{fewer}{capped})"


def markdown(summary, runs):
    """Two tables: scores at the default budget, and the targets of issue 16."""
    default = summary[summary.budget == 1]
    lines = ["| dataset / size | metric | " + " | ".join(runs) + " |",
             "|---|---|" + "---|" * len(runs)]
    for (dataset, size), group in default.groupby(["dataset", "size"], sort=False):
        by_run = {row.run: row for row in group.itertuples()}
        first = next(iter(by_run.values()))
        # TF-IDF and SetFit rows have no epochs of their own.
        epochs = min((row.epochs for row in by_run.values() if not pd.isna(row.epochs)),
                     default=np.nan)
        lines.append(f"| {dataset} / {size} ({first.n_train} texts, {epochs:.0f} epochs) "
                     f"| {DATASETS[dataset][1]} | "
                     + " | ".join(_cell(by_run.get(run), default.n_seeds.max())
                                  for run in runs) + " |")
    return "\n".join(lines) + "\n\n" + targets_markdown(default)


def margin_error(ours, theirs):
    """Standard error (points) of the difference of two cells' seed means.

    Welch's: the seeds of two strategies are independent fits, so the
    variances of the two means add. NaN where a cell has a single seed.

    >>> from types import SimpleNamespace as Cell
    >>> ours, theirs = Cell(score_std=0.03, n_seeds=3), Cell(score_std=0.04, n_seeds=3)
    >>> float(round(margin_error(ours, theirs), 2))
    2.89
    """
    return 100 * np.sqrt(ours.score_std ** 2 / ours.n_seeds
                         + theirs.score_std ** 2 / theirs.n_seeds)


def targets(default):
    """Per dataset and size: token_sparse's margins against the rivals (points)."""
    out = []
    for (dataset, size), group in default.groupby(["dataset", "size"], sort=False):
        by_run = group.set_index("run")
        if "token_sparse" not in by_run.index:
            continue
        ours = by_run.loc["token_sparse"]

        def versus(run):
            """token_sparse's margin over ``run`` and its standard error; NaN if not run."""
            if run not in by_run.index:
                return np.nan, np.nan
            theirs = by_run.loc[run]
            return 100 * (ours.score - theirs.score), margin_error(ours, theirs)

        vs_full, vs_full_se = versus(REFERENCE)
        vs_best_peft, vs_best_peft_se = min(
            (versus(run) for run in ("lora", "bitfit") if run in by_run.index),
            key=lambda pair: pair[0], default=(np.nan, np.nan))
        vs_setfit, vs_setfit_se = versus(SETFIT)
        out.append({
            "dataset": dataset, "size": size,
            "vs_full": vs_full, "vs_full_se": vs_full_se,
            "vs_best_peft": vs_best_peft, "vs_best_peft_se": vs_best_peft_se,
            "fit_ratio": ours.fit_ratio,
            "std": 100 * ours.score_std,
            "full_std": 100 * by_run.loc[REFERENCE].score_std if REFERENCE in by_run.index
            else np.nan,
            "vs_setfit": vs_setfit, "vs_setfit_se": vs_setfit_se,
        })
    return pd.DataFrame(out)


def targets_markdown(default):
    table = targets(default)
    lines = ["| dataset / size | (a) vs full >= -0.3 | (b) vs best of lora, bitfit >= 0 "
             "| (c) fit / full <= 0.5 | (d) std <= full's | vs SetFit >= 0 |",
             "|---|---|---|---|---|---|"]

    def judged(value, ok, fmt="+.1f", error=np.nan):
        if pd.isna(value):
            return ""
        spread = "" if pd.isna(error) else f" ± {error:.1f}"
        return f"{value:{fmt}}{spread} {'met' if ok else '**missed**'}"

    def std_judged(row):
        # One seed of full finetuning has no spread to compare with.
        if pd.isna(row.full_std):
            return "" if pd.isna(row.std) else f"{row.std:.2f} (full: one seed)"
        return f"{judged(row.std, row.std <= row.full_std, '.2f')} (full {row.full_std:.2f})"

    for row in table.itertuples():
        lines.append(
            f"| {row.dataset} / {row.size} | "
            f"{judged(row.vs_full, row.vs_full >= -0.3, error=row.vs_full_se)} | "
            f"{judged(row.vs_best_peft, row.vs_best_peft >= 0, error=row.vs_best_peft_se)} | "
            f"{judged(row.fit_ratio, row.fit_ratio <= 0.5, '.2f')} | "
            f"{std_judged(row)} | "
            f"{judged(row.vs_setfit, row.vs_setfit >= 0, error=row.vs_setfit_se)} |")
    return "\n".join(lines) + (
        "\n\nMargins in points, ± the standard error of the difference of the two seed "
        "means (Welch: the variances of the two means add).")


def plot(summary, dataset, path):
    """One panel per size: the metric against fit time, a curve per run through its budgets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = summary[summary.dataset == dataset]
    sizes = list(dict.fromkeys(frame["size"]))
    fig, axes = plt.subplots(1, len(sizes), figsize=(6 * len(sizes), 4.5), squeeze=False)
    for axis, size in zip(axes[0], sizes):
        for run, curve in frame[frame["size"] == size].groupby("run", sort=False):
            curve = curve.sort_values("fit_s")
            error = curve.score_std.fillna(0).to_numpy()
            axis.errorbar(curve.fit_s, curve.score, yerr=error, marker="o", capsize=3,
                          label=run, lw=2 if run == "token_sparse" else 1)
        axis.set(xscale="log", xlabel="fit time (s, log)",
                 ylabel=DATASETS[dataset][1], title=f"{dataset} / {size}")
        axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None, runner=in_fresh_processes):
    """Run the suite as the command line ``argv`` says; return the result dict."""
    args = build_parser().parse_args(argv)
    log = (lambda *_: None) if args.quiet else print
    stem, rows = run_suite(args, log, runner)
    if not rows:
        raise SystemExit("no results yet: run the suite without --report first")
    summary = summarise(rows)
    runs = list(dict.fromkeys([*settings(args)["strategies"], *summary.run]))
    table = markdown(summary, runs)
    command = report_command(argv if argv is not None else sys.argv[1:], args)
    result = {
        "schema_version": SCHEMA_VERSION, "stem": stem, "command": command, "commit": commit(),
        "backbone": {key: rows[0][key] for key in ("backbone", "backbone_config")},
        "date": datetime.date.today().isoformat(), "device": device_name(args.device),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "settings": recorded_settings(args),
        "rows": rows,
        "summary": json.loads(summary.to_json(orient="records")),
        "targets": json.loads(targets(summary[summary.budget == 1]).to_json(orient="records")),
    }
    (args.out_dir / f"{stem}.json").write_text(to_json(result, indent=2))
    (args.out_dir / f"{stem}.md").write_text(table + "\n")
    for dataset in dict.fromkeys(summary.dataset):
        plot(summary, dataset, args.out_dir / f"{stem}-{dataset}.png")
    log(table)
    if str(args.docs_file) != "none":
        update_docs(args.docs_file, stem, docs_section(result, stem, table))
    return result


# Options whose values are this machine's paths or say how to run, not what
# was measured: the recorded command and settings leave them out, so a results
# file names nothing that exists only where it was written.
LOCAL_OPTIONS = ("--data-dir", "--out-dir", "--docs-file", "--merge", "--report", "--quiet")


def recorded_settings(args):
    """What the results were measured at: the form's settings and every option but the local ones."""
    local = {option[2:].replace("-", "_") for option in LOCAL_OPTIONS}
    return {**{key: value for key, value in vars(args).items() if key not in local},
            "model": backbone_name(args.model), **settings(args)}


def report_command(given, args):
    """The command line ``given``, as one that writes these results again from the rows file.

    Run from the repository root, it reads the committed rows file and
    rewrites the tables and docs: a local backbone directory is named as the
    rows name it, and the local options (``LOCAL_OPTIONS``, in either
    ``--option value`` or ``--option=value`` spelling) give way to
    ``--report``.
    """
    def named(value):
        return backbone_name(value) if value == args.model != "default" else value

    words, in_local = [], False
    for word in given:
        if word.startswith("--"):
            option, has_value, value = word.partition("=")
            in_local = option in LOCAL_OPTIONS
            word = f"{option}={named(value)}" if has_value else word
        else:
            word = named(word)
        if not in_local:
            words.append(word)
    return " ".join(["python benchmarks/suite.py", *words, "--report"])


def docs_section(result, stem, table):
    plots = "\n".join(f"![{dataset}](../benchmarks/results/{stem}-{dataset}.png)"
                      for dataset in dict.fromkeys(row["dataset"] for row in result["rows"]))
    return (f"### {stem}\n\n`{result['command']}` at commit {result['commit']}, "
            f"{result['date']}, {result['device']} ({result['machine']['cpus']} cores), "
            f"backbone {result['backbone']['backbone']} (config "
            f"{result['backbone']['backbone_config']}). "
            "Cells: the metric in percent, mean ± std over seeds at the default budget "
            "(`max_epochs=\"auto\"`), and fit time / full's.\n\n"
            f"{table}\n\n{plots}\n")


if __name__ == "__main__":
    main()
