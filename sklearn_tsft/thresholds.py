"""Multi-label decisions: one probability threshold per label, tuned on held-out texts.

With ``threshold="auto"`` the estimator chooses, for each label, the
threshold that maximises that label's F1 on the validation split
(:func:`tune_label_thresholds`); :func:`label_indicators` applies the
thresholds, and can always answer at least each text's most probable label.
"""

import numpy as np

# The thresholds tried: the tuned value is one of these.
CANDIDATES = np.round(np.linspace(0.02, 0.98, 49), 2)
# A label with no positive text in the validation split has no F1 to
# tune; it keeps the usual threshold.
UNTUNED = 0.5


def tune_label_thresholds(proba, indicator):
    """Per label, the candidate threshold of best F1 on held-out texts.

    Parameters
    ----------
    proba : ndarray of shape (n_texts, n_labels)
        Each label's probability (a sigmoid per label).
    indicator : ndarray of shape (n_texts, n_labels)
        The true 0/1 labels.

    Returns
    -------
    thresholds : ndarray of float64 of shape (n_labels,)
        From ``CANDIDATES``; ties go to the candidate nearest 0.5, and a
        label without a positive text keeps 0.5.

    Examples
    --------
    >>> import numpy as np
    >>> proba = np.array([[0.9, 0.3], [0.35, 0.2], [0.1, 0.4]])
    >>> truth = np.array([[1, 0], [1, 0], [0, 0]])
    >>> tune_label_thresholds(proba, truth)
    array([0.34, 0.5 ])
    """
    truth = np.asarray(indicator).astype(bool)
    predicted = np.asarray(proba)[:, :, None] >= CANDIDATES  # texts x labels x candidates
    true_positives = (predicted & truth[:, :, None]).sum(axis=0)
    false_positives = (predicted & ~truth[:, :, None]).sum(axis=0)
    false_negatives = truth.sum(axis=0)[:, None] - true_positives
    f1 = 2 * true_positives / np.maximum(2 * true_positives + false_positives + false_negatives, 1)
    # Best F1, then nearest 0.5: order the candidates by distance first.
    by_distance = np.argsort(np.abs(CANDIDATES - 0.5), kind="stable")
    best = by_distance[np.argmax(f1[:, by_distance], axis=1)]
    thresholds = CANDIDATES[best].astype(np.float64)
    thresholds[truth.sum(axis=0) == 0] = UNTUNED
    return thresholds


def label_indicators(proba, thresholds, at_least_one=False):
    """The 0/1 label matrix that probabilities and thresholds give.

    Parameters
    ----------
    proba : ndarray of shape (n_texts, n_labels)
    thresholds : float or ndarray of shape (n_labels,)
        A label is predicted where its probability reaches its threshold.
    at_least_one : bool, default=False
        A text with no label reaching its threshold gets its most probable one.

    Returns
    -------
    indicator : ndarray of int64 of shape (n_texts, n_labels)

    Examples
    --------
    >>> import numpy as np
    >>> label_indicators(np.array([[0.6, 0.2], [0.3, 0.4]]), 0.5, at_least_one=True)
    array([[1, 0],
           [0, 1]])
    """
    indicator = (proba >= thresholds).astype(np.int64)
    if at_least_one:
        empty = indicator.sum(axis=1) == 0
        indicator[empty, np.argmax(proba[empty], axis=1)] = 1
    return indicator
