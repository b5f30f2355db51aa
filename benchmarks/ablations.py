"""Ablations of token_sparse: what each stage of the method adds, on one dataset.

Each variant changes one thing against the default ``token_sparse`` and is
fitted in a fresh process with the same split, seeds and epochs:

* ``random_rows``: rows drawn at random (same budget, same layers) instead
  of by sensitivity at task-token positions;
* ``all_positions``: the same sensitivity score summed over every position,
  not only task tokens';
* ``no_adaptive_tokenization``: task words keep their subword pieces;
* ``n_layers=3`` / ``n_layers=None``: rows in the top half / every block
  throughout (the default's schedule: every block for the first quarter
  of the steps, then the top block of MiniLM's 6);
* ``full``: end-to-end finetuning, the reference.

The first two replace the selection's scoring function inside the child
process only; the library has no switch for them. Run from the repository
root, e.g.::

    python benchmarks/ablations.py --dataset rotten_tomatoes --n-train 1000 --n-test 1000

and few-shot, ten texts per label: ``--per-class 10``.
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from repository import DEFAULTS, ROOT, data_dir
from sklearn_tsft.benchmark import in_fresh_processes, measure, parse_epochs, read_split, to_json
from suite import backbone_identity

LABEL_COLUMNS = {"banking77": "category"}
VARIANTS = {
    "token_sparse (default)": ("token_sparse", {}),
    "random_rows": ("token_sparse", {}),
    "all_positions": ("token_sparse", {}),
    "no_adaptive_tokenization": ("token_sparse", {"adaptive_tokenization": False}),
    "n_layers=3": ("token_sparse", {"n_layers": 3}),
    "n_layers=None": ("token_sparse", {"n_layers": None}),
    "full": ("full", {}),
}


def patch_scores(variant, seed):
    """Replace token_sparse's row scoring as ``variant`` says (in this process)."""
    import torch

    import sklearn_tsft.strategies.token_sparse as token_sparse

    score = token_sparse.row_sensitivity
    if variant == "random_rows":
        rng = np.random.default_rng(seed)

        def random_scores(encoder, layers, *args, **kwargs):
            return {name: rng.random(layer.out_features) for name, layer in layers.items()}

        token_sparse.row_sensitivity = random_scores
    elif variant == "all_positions":
        def every_position(encoder, layers, batches, task_token_ids, n_classes):
            every_id = torch.arange(encoder.config.vocab_size, device=task_token_ids.device)
            return score(encoder, layers, batches, every_id, n_classes)

        token_sparse.row_sensitivity = every_position


def measure_variant(variant, split, seed, common):
    strategy, params = VARIANTS[variant]
    patch_scores(variant, seed)
    spec = strategy + "".join(
        f"{',' if i else ':'}{key}={value}" for i, (key, value) in enumerate(params.items()))
    return {"variant": variant, **measure(spec, split, seed, common)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="rotten_tomatoes")
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--per-class", type=int,
                        help="few-shot: this many training texts per label instead of --n-train")
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--max-epochs", type=parse_epochs, default=DEFAULTS["max_epochs"])
    parser.add_argument("--model", default=DEFAULTS["model"],
                        help="backbone: 'default' (the packaged MiniLM), a local directory "
                        "or a Hub id; the result files are named after it")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    folder = data_dir() / args.dataset
    split = read_split(folder / "train.csv", folder / "test.csv", "text",
                       LABEL_COLUMNS.get(args.dataset, "label"),
                       n_train=None if args.per_class else args.n_train,
                       per_class=args.per_class, n_test=args.n_test)
    backbone = backbone_identity(args.model)
    common = {"model": args.model, "max_epochs": args.max_epochs, "verbose": 0}
    jobs = [(variant, seed) for seed in args.seeds for variant in args.variants]
    rows = []
    for (variant, seed), row in zip(jobs, in_fresh_processes(
            measure_variant, [(variant, split, seed, common) for variant, seed in jobs])):
        rows.append({**backbone, **row})
        print(f"{variant} seed={seed}: accuracy {row['accuracy']:.4f}, macro-F1 "
              f"{row['macro_f1']:.4f}, fit {row['fit_s']:.1f} s", flush=True)
    frame = pd.DataFrame(rows)
    reference = frame[frame.variant == "full"].fit_s.mean()
    table = frame.groupby("variant", sort=False).agg(
        accuracy=("accuracy", "mean"), accuracy_std=("accuracy", "std"),
        macro_f1=("macro_f1", "mean"), macro_f1_std=("macro_f1", "std"), fit_s=("fit_s", "mean"),
        trainable_fraction=("trainable_fraction", "mean"))
    table["fit_ratio"] = table.fit_s / reference
    print(table.to_markdown(floatfmt=".4f"))
    size = f"{args.per_class}pc" if args.per_class else len(split[0])
    stem = f"ablations-{args.dataset}-{size}" + (
        "" if args.model == "default" else f"-{backbone['backbone'].split('/')[-1]}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{stem}.json").write_text(to_json(
        {"settings": {key: str(value) for key, value in vars(args).items()}, "rows": rows},
        indent=2))
    (args.out_dir / f"{stem}.md").write_text(table.to_markdown(floatfmt=".4f") + "\n")


if __name__ == "__main__":
    main()
