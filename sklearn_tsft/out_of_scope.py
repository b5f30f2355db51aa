"""Out-of-scope scores: how much a text looks like the classes a model was trained on.

Two scores read the logits alone: ``"max_proba"``, the largest softmax
probability (Hendrycks and Gimpel, 2017), and ``"energy"``, the log-sum-exp
of the logits (the negative free energy; Liu et al., 2020). The third,
``"mahalanobis"`` (Lee et al., 2018; Podolskiy et al., 2021), reads the
pooled text embedding: minus the squared Mahalanobis distance to the
nearest class mean, under one covariance shared by the classes and fitted
on the training texts. All three are higher for texts in scope.
"""

import numpy as np
from scipy.special import logsumexp, softmax
from sklearn.covariance import LedoitWolf

OOS_SCORES = ("energy", "max_proba", "mahalanobis")
# Training texts per class whose embeddings fit the class Gaussians: the
# extra forward pass stays a small part of a fit on large data.
GAUSSIAN_TEXTS = 100


def logit_scores(logits, method):
    """Per text, the ``"energy"`` or ``"max_proba"`` score of its logits."""
    if method == "max_proba":
        return softmax(logits, axis=1).max(axis=1)
    return logsumexp(logits, axis=1)


class ClassGaussians:
    """Class means and one shared precision matrix of text embeddings.

    Parameters
    ----------
    means : ndarray of shape (n_classes, n_features)
    precision : ndarray of shape (n_features, n_features)
        Inverse of the within-class covariance.
    """

    def __init__(self, means, precision):
        self.means = means
        self.precision = precision

    @classmethod
    def fit(cls, embeddings, class_index, n_classes):
        """Fit on embeddings of shape (n_texts, n_features) and each text's class index.

        The covariance is shrunk towards a multiple of the identity by the
        Ledoit-Wolf rule: with ten texts per class the empirical one of a
        384-dimensional embedding is singular.
        """
        embeddings = np.asarray(embeddings, dtype=np.float64)
        means = np.stack([embeddings[class_index == k].mean(axis=0) for k in range(n_classes)])
        within = embeddings - means[class_index]
        return cls(means, LedoitWolf(assume_centered=True).fit(within).precision_)

    def scores(self, embeddings):
        """Minus the squared Mahalanobis distance of each embedding to the nearest class mean."""
        embeddings = np.asarray(embeddings, dtype=np.float64)
        projected = embeddings @ self.precision
        # (x - m)' P (x - m) = x'Px - 2 x'Pm + m'Pm, for every class at once.
        distances = ((projected * embeddings).sum(axis=1)[:, None]
                     - 2 * projected @ self.means.T
                     + ((self.means @ self.precision) * self.means).sum(axis=1)[None, :])
        return -distances.min(axis=1)
