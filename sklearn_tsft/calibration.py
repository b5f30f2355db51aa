"""Temperature scaling of the logits (Guo et al., 2017) and the calibration error.

One scalar ``T > 0`` divides every logit; it is chosen to minimise the
negative log-likelihood of held-out labels. Predictions (the argmax) do not
change, only how confident the probabilities are.
"""

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax


def fit_temperature(logits, labels):
    """The temperature that minimises the held-out negative log-likelihood.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
    labels : ndarray of int of shape (n_samples,)
        Column index of each sample's true class.

    Returns
    -------
    temperature : float
        Between e^-3 and e^3 (about 0.05 to 20).

    Examples
    --------
    Logits three times too sharp are cooled down by about 3:

    >>> import numpy as np
    >>> from scipy.special import softmax
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(2000, 4))
    >>> labels = np.array([rng.choice(4, p=p) for p in softmax(logits, axis=1)])
    >>> 2.7 < fit_temperature(3 * logits, labels) < 3.3
    True
    """
    rows = np.arange(len(labels))

    def nll(log_temperature):
        return -log_softmax(logits / np.exp(log_temperature), axis=1)[rows, labels].mean()

    return float(np.exp(minimize_scalar(nll, bounds=(-3, 3), method="bounded").x))


def expected_calibration_error(y_true, proba, classes, n_bins=15):
    """Expected calibration error of the top-class probability.

    The predictions are binned by confidence into ``n_bins`` equal-width
    bins; the error is the mean over texts of ``|accuracy - confidence|``
    of their bin.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    proba : ndarray of shape (n_samples, n_classes)
        Columns follow ``classes``.
    classes : ndarray of shape (n_classes,)
    n_bins : int, default=15

    Returns
    -------
    ece : float in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
    >>> round(expected_calibration_error(["a", "b", "b"], proba, np.array(["a", "b"])), 4)
    0.4
    """
    confidence = proba.max(axis=1)
    correct = np.asarray(classes)[proba.argmax(axis=1)] == np.asarray(y_true)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in np.unique(bins):
        members = bins == b
        error += members.sum() * abs(correct[members].mean() - confidence[members].mean())
    return float(error / len(confidence))
