"""Command-line options and data loading shared by the examples (not an example itself)."""

import argparse
import os
import sys
from pathlib import Path

import pandas as pd

DEFAULT_DATA = Path(
    os.environ.get("TSFT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
) / "banking77"


def parse_args(description, out):
    """Options every example takes: --data, --model, --quick, --out, --seed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder with train.csv and test.csv (columns text, category)")
    parser.add_argument("--model", default="default", help="backbone (default: packaged MiniLM)")
    parser.add_argument("--quick", action="store_true",
                        help="10 intents, 20 texts each, 1 epoch: a minute or two on a CPU")
    parser.add_argument("--out", type=Path, default=Path(out), help="figure to write")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def load_slice(folder, n_intents, per_intent, seed):
    """Train and test frames: the first ``n_intents`` intents, ``per_intent`` texts each."""
    if not (folder / "train.csv").exists():
        sys.exit(f"No train.csv in {folder}: pass --data with the banking77 folder.")
    train, test = pd.read_csv(folder / "train.csv"), pd.read_csv(folder / "test.csv")
    intents = sorted(train.category.unique())[:n_intents]
    train = train[train.category.isin(intents)]
    per_intent = min(per_intent, train.category.value_counts().min())
    train = train.groupby("category").sample(per_intent, random_state=seed)
    return train.reset_index(drop=True), test[test.category.isin(intents)].reset_index(drop=True)


def load_banking77(args):
    """The slice the examples use: 20 intents of 40 texts (10 of 20 with --quick)."""
    n_intents, per_intent = (10, 20) if args.quick else (20, 40)
    return load_slice(args.data, n_intents, per_intent, args.seed)


def save(figure, path):
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"wrote {path}")
