"""Quickstart: fit TokenSparseClassifier on a slice of banking77, compare with TF-IDF.

Run from the repository root::

    python examples/quickstart.py            # ~2 minutes on two CPU cores
    python examples/quickstart.py --data /path/to/banking77 --n-intents 77 --per-intent 100

The data folder holds ``train.csv`` and ``test.csv`` with columns
``text,category`` (see ``../shared/data/README.md``); ``TSFT_DATA`` may name
the folder that contains ``banking77/`` instead of ``--data``.
"""

import argparse
import time
from pathlib import Path

from _common import DEFAULT_DATA, load_slice
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_tsft import TokenSparseClassifier


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="banking77 folder")
    parser.add_argument("--n-intents", type=int, default=20)
    parser.add_argument("--per-intent", type=int, default=40)
    parser.add_argument("--max-epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    train, test = load_slice(args.data, args.n_intents, args.per_intent, args.seed)
    print(f"{len(train)} training and {len(test)} test texts, {args.n_intents} intents")

    tfidf = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                          LogisticRegression(max_iter=2000))
    tfidf.fit(train.text, train.category)
    print(f"TF-IDF + LogisticRegression accuracy: {tfidf.score(test.text, test.category):.3f}")

    clf = TokenSparseClassifier(max_epochs=args.max_epochs, random_state=args.seed)
    start = time.perf_counter()
    clf.fit(train.text, train.category)
    print(f"TokenSparseClassifier(strategy={clf.strategy!r}) accuracy: "
          f"{clf.score(test.text, test.category):.3f} "
          f"(fit {time.perf_counter() - start:.0f} s, "
          f"{clf.trainable_fraction_:.1%} of the backbone trained)")

    new = ["my card still has not arrived", "how do I top up with apple pay?",
           "I was charged twice for the same thing"]
    for text, label in zip(new, clf.predict(new)):
        print(f"  {text!r} -> {label}")


if __name__ == "__main__":
    main()
