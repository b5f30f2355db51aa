"""Checks of the texts and labels handed to the estimator."""

import numbers
import warnings
from collections.abc import ItemsView, KeysView, Mapping, Set, ValuesView

import numpy as np
import scipy.sparse
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets


def _is_missing(value):
    return value is None or (isinstance(value, numbers.Real) and np.isnan(value))


def _as_column(X):
    """Return a 1-D sequence from X, accepting a single-column 2-D input."""
    if hasattr(X, "iloc") and getattr(X, "ndim", 1) == 2:  # pandas DataFrame
        if X.shape[1] != 1:
            raise ValueError(
                f"X is a DataFrame with {X.shape[1]} columns; TokenSparseClassifier "
                "takes one text column. Select it (X['text']) or use a "
                "ColumnTransformer that hands on a single column."
            )
        return X.iloc[:, 0].tolist()
    if hasattr(X, "tolist") and getattr(X, "ndim", 1) == 2:  # numpy 2-D
        if X.shape[1] != 1:
            raise ValueError(
                f"X is a 2-D array of shape {X.shape}; TokenSparseClassifier takes "
                "raw texts: a 1-D sequence of strings or a single-column 2-D array."
            )
        return X[:, 0].tolist()
    if hasattr(X, "tolist"):  # numpy 1-D, pandas Series
        return X.tolist()
    if hasattr(X, "__array__"):
        return _as_column(np.asarray(X))
    return X


def check_texts(X):
    """Validate raw texts and return them as a list of ``str``.

    Parameters
    ----------
    X : sequence of str, numpy array, pandas Series or single-column DataFrame
        The texts. Empty strings are valid.

    Returns
    -------
    texts : list of str
    """
    if isinstance(X, (str, bytes)):
        raise TypeError(
            "X must be a sequence of texts, got a single string. Wrap it in a "
            "list: clf.predict([text])."
        )
    if scipy.sparse.issparse(X):
        raise TypeError(
            "X is a sparse matrix, but TokenSparseClassifier takes raw texts and "
            "does its own tokenization: pass the strings themselves, not "
            "vectorized features."
        )
    if isinstance(X, (Set, Mapping, KeysView, ValuesView, ItemsView)):
        raise TypeError(
            f"X is a {type(X).__name__}, which has no fixed order, so texts could not be "
            "paired with their labels: pass a list (or array, or Series) of texts."
        )
    try:
        texts = list(_as_column(X))
    except TypeError as exc:
        raise TypeError(
            f"X must be a sequence of strings (list, tuple, numpy array, pandas "
            f"Series), got {type(X).__name__}."
        ) from exc
    if len(texts) == 0:
        raise ValueError("X is empty: pass at least one text.")
    for index, text in enumerate(texts):
        if isinstance(text, str):
            if not text.isascii():
                _check_encodable(text, index)
            continue
        if _is_missing(text):
            raise ValueError(
                f"X[{index}] is missing ({text!r}). Drop or fill missing texts "
                "first, e.g. with an empty string."
            )
        raise TypeError(
            f"X[{index}] is of type {type(text).__name__} ({text!r:.50}), not a string. "
            "Convert the texts to str before fitting or predicting."
        )
    return texts


def _check_encodable(text, index):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"X[{index}] holds {text[exc.start]!r} at character {exc.start}, a lone "
            "surrogate that is not valid Unicode text (often a file decoded with "
            "errors='surrogateescape'). Decode the file as UTF-8, or drop those characters "
            "with text.encode('utf-8', 'ignore').decode()."
        ) from exc


def check_labels(y, n_texts):
    """Validate classification labels.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels that are strings, numbers or bools (one type); a column
        vector is read as 1-D, with scikit-learn's warning.
    n_texts : int
        Number of texts they belong to.

    Returns
    -------
    classes : ndarray
        Sorted unique labels, in their original type.
    encoded : ndarray of int64
        Index of each label in ``classes``.
    """
    if y is None:
        raise ValueError("y is required: pass one label per text.")
    if hasattr(y, "__array__") and not hasattr(y, "tolist"):
        y = np.asarray(y)
    listed = y.tolist() if hasattr(y, "tolist") else list(y)
    _check_scalar_labels(listed)
    labels = np.asarray(listed, dtype=object)
    if labels.ndim == 2 and labels.shape[1] == 1:
        # scikit-learn's column_or_1d: a column vector is read as 1-D, with a warning.
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the "
            "shape of y to (n_samples,), for example using ravel().",
            DataConversionWarning, stacklevel=4)
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(
            f"y must be 1-D (one label per text) or a 2-D 0/1 indicator matrix "
            f"(multi-label), got shape {labels.shape}."
        )
    if labels.shape[0] != n_texts:
        raise ValueError(
            f"X and y have different lengths: {n_texts} texts but "
            f"{labels.shape[0]} labels. Pass exactly one label per text."
        )
    missing = [i for i, label in enumerate(labels) if _is_missing(label)]
    if missing:
        raise ValueError(
            f"y[{missing[0]}] is missing ({labels[missing[0]]!r}); every text needs a label."
        )
    # numpy scalars count as their Python type: "a" and np.str_("a") are one label.
    for index, label in enumerate(labels):
        if isinstance(label, np.generic):
            labels[index] = label.item()
    label_types = sorted({type(label).__name__ for label in labels})
    if len(label_types) > 1:
        raise TypeError(
            f"y mixes label types ({', '.join(label_types)}); convert all labels "
            "to one type, e.g. y.astype(str)."
        )
    # Back to the labels' natural dtype so predictions come out as given;
    # strings stay objects, since numpy's fixed-width strings drop trailing
    # NUL characters ("\x00" would become "").
    natural = np.asarray(labels.tolist())
    labels = labels if natural.dtype.kind == "U" else natural
    check_classification_targets(labels)
    classes, encoded = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"y has only one class ({classes[0]!r}); a classifier needs at least "
            "two different labels."
        )
    return classes, encoded.astype(np.int64)


def _check_scalar_labels(labels):
    """Refuse labels that are collections: scikit-learn reads those as multi-label data."""
    for index, label in enumerate(labels):
        if isinstance(label, (tuple, frozenset, set)):
            raise TypeError(
                f"y[{index}] is a {type(label).__name__} ({label!r:.50}); a label must be one "
                "string, number or bool (scikit-learn reads a sequence of labels per text as "
                "multi-label data). For one label per text, make each a string, e.g. "
                "y = [str(label) for label in y]; for several labels per text, pass "
                "MultiLabelBinarizer().fit_transform(y).")


def is_label_matrix(y):
    """Whether ``y`` is 2-D with several columns: a multi-label indicator matrix."""
    if scipy.sparse.issparse(y):
        return True
    try:
        shape = np.asarray(y).shape
    except ValueError:  # ragged, e.g. lists of label sets: check_labels explains
        return False
    return len(shape) == 2 and shape[1] > 1


def check_label_matrix(y, n_texts):
    """Validate a multi-label indicator matrix.

    Parameters
    ----------
    y : array-like or sparse matrix of shape (n_samples, n_labels)
        0/1 entries, as ``MultiLabelBinarizer`` gives.
    n_texts : int

    Returns
    -------
    indicator : ndarray of float32 of shape (n_samples, n_labels)
    label_sets : ndarray of int64 of shape (n_samples,)
        Index of each text's set of labels among the distinct sets (the
        "label powerset"), for stratifying and for task-token statistics.
    """
    indicator = np.asarray(y.toarray() if scipy.sparse.issparse(y) else y)
    if indicator.shape[0] != n_texts:
        raise ValueError(
            f"X and y have different lengths: {n_texts} texts but {indicator.shape[0]} "
            "rows of labels. Pass one row of the indicator matrix per text."
        )
    if not np.isin(indicator, (0, 1)).all():
        raise ValueError(
            "A 2-D y must be a 0/1 indicator matrix (one column per label, as "
            "sklearn.preprocessing.MultiLabelBinarizer gives); for one label per "
            "text pass a 1-D y."
        )
    _, label_sets = np.unique(indicator, axis=0, return_inverse=True)
    return indicator.astype(np.float32), label_sets.ravel().astype(np.int64)
