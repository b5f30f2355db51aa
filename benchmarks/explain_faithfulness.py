"""Faithfulness of ``explain`` on banking77: removing the top words must hurt more than random ones.

A token_sparse model is fitted on banking77 (``--per-class`` texts per
intent); for each test text of at least four words, the predicted class's
probability is measured on the text, on the text without its ``--k`` words
of largest contribution (``explain``), and on the text without ``--k``
words drawn at random (seed 0). Reported: the mean drop of each, and the
share of texts where the top words' drop is the larger. Run from the
repository root::

    python benchmarks/explain_faithfulness.py --per-class 10
"""

import argparse
import json
from pathlib import Path

import numpy as np

from repository import ROOT, commit, data_dir, update_docs
from sklearn_tsft import TokenSparseClassifier
from sklearn_tsft.benchmark import read_split, to_json


def without(words, positions):
    """The text of ``words`` with the words at ``positions`` left out."""
    dropped = set(positions)
    return " ".join(word for i, word in enumerate(words) if i not in dropped)


def probability_drops(clf, texts, k, seed=0):
    """Per text: the predicted class's probability drop without its top-``k`` and ``k`` random words."""
    rng = np.random.default_rng(seed)
    explanations = clf.explain(texts)
    proba = clf.predict_proba(texts)
    predicted = proba.argmax(axis=1)
    words = [[word for word, _ in explanation] for explanation in explanations]
    top = [without(w, np.argsort([-c for _, c in e], kind="stable")[:k])
           for w, e in zip(words, explanations)]
    random = [without(w, rng.choice(len(w), k, replace=False)) for w in words]
    rows = np.arange(len(texts))
    base = proba[rows, predicted]
    return (base - clf.predict_proba(top)[rows, predicted],
            base - clf.predict_proba(random)[rows, predicted])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--n-test", type=int, default=None, help="test texts (default: all)")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--docs-file", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    folder = data_dir() / "banking77"
    X_train, y_train, X_test, _ = read_split(folder / "train.csv", folder / "test.csv", "text",
                                             "category", per_class=args.per_class,
                                             n_test=args.n_test)
    texts = [text for text in X_test if len(text.split()) > args.k]
    clf = TokenSparseClassifier(random_state=0, verbose=0).fit(X_train, y_train)
    top, random = probability_drops(clf, texts, args.k)
    result = {"n_texts": len(texts), "top_drop": float(top.mean()),
              "random_drop": float(random.mean()), "top_larger": float(np.mean(top > random))}
    print(json.dumps(result, indent=2))
    revision = commit()
    stem = f"explain-faithfulness-banking77-{args.per_class}pc"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{stem}.json").write_text(to_json(
        {"settings": {key: str(value) for key, value in vars(args).items()}, "commit": revision,
         **result}, indent=2))
    if str(args.docs_file) != "none":
        update_docs(args.docs_file, stem, (
            f"token_sparse (defaults) on banking77 at {args.per_class} texts per intent; "
            f"{len(texts)} test texts of more than {args.k} words; commit `{revision}`:\n\n"
            f"    python benchmarks/explain_faithfulness.py --per-class {args.per_class}\n\n"
            f"| words removed | mean drop of the predicted class's probability |\n|---|---|\n"
            f"| top {args.k} by `explain` | {result['top_drop']:.3f} |\n"
            f"| {args.k} at random | {result['random_drop']:.3f} |\n\n"
            f"The top words' drop is the larger on {100 * result['top_larger']:.0f}% of "
            "the texts.\n"))


if __name__ == "__main__":
    main()
