"""What the repository's benchmark scripts share: its data folder and its docs page.

``tsft bench`` (``sklearn_tsft.benchmark``) compares strategies on any
tables; the scripts in this folder run it, and the other measurements, on
``../shared/data`` (or ``$TSFT_DATA``) and write their results into
``benchmarks/results`` and ``docs/benchmarks.md``.
"""

import os
import re
import subprocess
from pathlib import Path

import sklearn_tsft
from sklearn_tsft import TokenSparseClassifier
from sklearn_tsft.benchmark import add_arguments

ROOT = Path(__file__).resolve().parent.parent
# The estimator's defaults, which the scripts' options take.
DEFAULTS = TokenSparseClassifier().get_params()


def data_dir():
    """``$TSFT_DATA``, else the ``shared/data`` folder beside the repository."""
    return Path(os.environ.get("TSFT_DATA", ROOT.parent / "shared" / "data"))


def commit(checkout=ROOT):
    """The short hash of ``checkout``'s HEAD, or ``"unknown"`` outside a git checkout."""
    try:
        return subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                              text=True, capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def package_commit():
    """The commit of the checkout ``sklearn_tsft`` was imported from.

    Exploratory runs set ``PYTHONPATH`` to a checkout of the commit they
    measure, which need not be the one the script lives in.
    """
    return commit(Path(sklearn_tsft.__file__).resolve().parents[1])


def add_repository_arguments(parser, dataset="banking77", label_column="category"):
    """The benchmark's options, defaulting to a dataset of the data folder and to this repository's result folder."""
    folder = data_dir() / dataset
    add_arguments(parser, train=folder / "train.csv", test=folder / "test.csv")
    parser.set_defaults(label_column=label_column, out_dir=ROOT / "benchmarks" / "results")
    parser.add_argument("--docs-file", type=Path, default=ROOT / "docs" / "benchmarks.md",
                        help="markdown file whose results section for this run is "
                        "replaced (or appended); 'none' to leave docs alone")
    return parser


def update_docs(docs_file, key, section):
    """Replace the section marked ``key`` in ``docs_file``, or append it."""
    begin, end = f"<!-- results: {key} -->", f"<!-- end results: {key} -->"
    text = docs_file.read_text() if docs_file.exists() else "# Benchmarks\n"
    block = f"{begin}\n{section}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    docs_file.write_text(text)
