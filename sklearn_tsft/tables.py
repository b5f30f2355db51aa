"""Reading and writing labelled text tables: CSV, TSV and JSON Lines, or stdin/stdout.

The format follows the file name (``.csv``, ``.tsv``/``.tab``,
``.jsonl``/``.ndjson``); ``-`` means standard input or output, read and
written as CSV unless ``format=`` says otherwise.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ._atomic import replacing_file
from .exceptions import TableError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def table_format(path, format=None):
    """The format of ``path``: ``format`` if given, else from its suffix (``-``: csv).

    Examples
    --------
    >>> table_format("data/train.tsv"), table_format("-"), table_format("x.txt", "jsonl")
    ('tsv', 'csv', 'jsonl')
    """
    if format is not None:
        if format not in set(FORMATS.values()):
            raise TableError(f"unknown table format {format!r}; use csv, tsv or jsonl.")
        return format
    if str(path) == "-":
        return "csv"
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise TableError(
            f"cannot tell the format of {str(path)!r} from its suffix; name it .csv, "
            ".tsv or .jsonl, or pass the format explicitly."
        )
    return FORMATS[suffix]


def read_table(path, format=None):
    """Read a table into a DataFrame; every column is kept.

    CSV and TSV cells are read as strings, exactly as written, so that
    writing the frame back gives the same cells; JSON Lines keeps its
    values' JSON types.

    Parameters
    ----------
    path : str or os.PathLike
        A file, or ``"-"`` for standard input.
    format : {"csv", "tsv", "jsonl"}, optional
        Overrides the format implied by the suffix.

    Returns
    -------
    frame : pandas.DataFrame

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "texts.jsonl"
    >>> _ = path.write_text('{"text": "lost card", "label": "card"}')
    >>> read_table(path).to_dict("records")
    [{'text': 'lost card', 'label': 'card'}]
    """
    kind = table_format(path, format)
    source = sys.stdin if str(path) == "-" else path
    if source is path and not Path(path).is_file():
        raise TableError(f"no such file: {str(path)!r}")
    try:
        if kind == "jsonl":
            return pd.read_json(source, lines=True, dtype=False)
        # Every cell as the text it is: no type guessing (a zip code 02134
        # stays 02134, 1e3 stays 1e3), and an empty cell is "", not NaN.
        return pd.read_csv(source, sep="\t" if kind == "tsv" else ",", dtype=str,
                           keep_default_na=False)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise TableError(f"cannot read {str(path)!r} as {kind}: {exc}") from exc


def write_table(frame, path, format=None):
    """Write ``frame`` to ``path`` (``"-"``: standard output) without its index.

    Parameters
    ----------
    frame : pandas.DataFrame
    path : str or os.PathLike
    format : {"csv", "tsv", "jsonl"}, optional
        Overrides the format implied by the suffix.

    Examples
    --------
    >>> import pandas as pd
    >>> write_table(pd.DataFrame({"text": ["lost card"], "prediction": ["card"]}), "-")
    text,prediction
    lost card,card
    """
    kind = table_format(path, format)
    if str(path) == "-":
        _write(frame, sys.stdout, kind)
        return
    # Written beside the target and renamed over it: a failed write leaves
    # the previous file whole.
    with replacing_file(path) as staging:
        _write(frame, staging, kind)


def _write(frame, target, kind):
    if kind == "jsonl":
        frame.to_json(target, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_csv(target, sep="\t" if kind == "tsv" else ",", index=False)


def column(frame, name, path):
    """The column ``name`` of a table read from ``path``, or an error listing the columns."""
    if name not in frame.columns:
        available = ", ".join(map(repr, frame.columns)) or "none"
        raise TableError(f"{str(path)!r} has no column {name!r}; its columns are: {available}.")
    return frame[name]


LABEL_TYPES = {"str": str, "int": int, "float": float}


def label_column(frame, name, path, label_type=None):
    """The label column ``name``, refusing empty cells (they would become a class ``""``).

    ``label_type`` (``"str"``, ``"int"`` or ``"float"``) converts the
    cells; None keeps them as read (strings from CSV and TSV, so that
    ``01`` and ``1`` are two labels).
    """
    labels = column(frame, name, path)
    empty = np.flatnonzero(labels.isna().to_numpy() | (labels.astype(str).str.strip() == ""))
    if len(empty):
        # Data rows numbered from 1, the header not counted.
        rows = ", ".join(str(i + 1) for i in empty[:10]) + (", ..." if len(empty) > 10 else "")
        raise TableError(
            f"{str(path)!r}: column {name!r} is empty in {len(empty)} row(s) ({rows}); give "
            "every text a label, or drop those rows.")
    if label_type is None:
        return labels
    try:
        return labels.map(LABEL_TYPES[label_type])
    except ValueError as exc:
        raise TableError(f"{str(path)!r}: column {name!r} holds a label that is not "
                         f"{label_type} ({exc}); use --label-type str.") from exc


def label_sets(frame, name, path, separator):
    """Each text's set of labels: the cells of column ``name`` split on ``separator``.

    Pieces are stripped; an empty cell is a text with no label (allowed in
    multi-label data).

    Examples
    --------
    >>> frame = pd.DataFrame({"labels": ["billing | refund", "card", None]})
    >>> [sorted(labels) for labels in label_sets(frame, "labels", "t.csv", "|")]
    [['billing', 'refund'], ['card'], []]
    """
    if not separator:
        raise TableError("--label-separator must not be empty; use e.g. '|' or ';'.")
    cells = column(frame, name, path)
    return [set() if pd.isna(cell) else
            {piece.strip() for piece in str(cell).split(separator) if piece.strip()}
            for cell in cells]
