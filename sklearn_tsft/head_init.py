"""Where the linear head starts: the class prototypes, or a logistic regression.

:func:`start_at_logistic_regression` sets the head to a logistic regression
on given embeddings (the contrastive objective's head, fitted once the
backbone is adapted). The rest of this module starts the head at the class
prototypes (the nearest-class-mean classifier).

With ``logit_k = s * (x . m_k - |m_k|^2 / 2)``, where ``m_k`` is the mean
pooled embedding of class ``k``, the largest logit is the nearest class
mean, so the first optimizer steps already classify and the backbone's
first gradients are not those of a random head. The scale ``s`` is the one
that minimises the cross-entropy of leave-one-out prototypes (each text
scored against its class mean without itself), so the start is neither
flat nor overconfident; but never below the scale at which the rows, taken
from the mean of the class means (which changes no probability), are as
long as a randomly started head's: the backbone's gradients go through the
rows' differences, and prototypes of classes that the pretrained
embeddings do not separate would otherwise start a head too flat to train
the backbone.
"""

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from sklearn.linear_model import LogisticRegression

# Texts per class whose embeddings make the prototypes: enough for a
# stable mean, few enough that the extra forward pass stays small.
PROTOTYPE_TEXTS = 32


def prototype_logits(embeddings, class_index, means, counts):
    """Unscaled nearest-mean logits, each text's own class mean taken without it."""
    logits = embeddings @ means.T - 0.5 * (means ** 2).sum(axis=1)
    rows = np.flatnonzero(counts[class_index] > 1)
    own = class_index[rows]
    n = counts[own][:, None]
    left_out = (n * means[own] - embeddings[rows]) / (n - 1)
    logits[rows, own] = ((embeddings[rows] * left_out).sum(axis=1)
                         - 0.5 * (left_out ** 2).sum(axis=1))
    return logits


def fit_scale(logits, class_index):
    """The positive factor of ``logits`` that minimises their cross-entropy."""
    rows = np.arange(len(class_index))
    spread = float(np.std(logits - logits.mean(axis=1, keepdims=True))) or 1.0

    def cross_entropy(log_scale):
        scaled = logits * (np.exp(log_scale) / spread)
        return -log_softmax(scaled, axis=1)[rows, class_index].mean()

    best = minimize_scalar(cross_entropy, bounds=(-5, 5), method="bounded").x
    return float(np.exp(best) / spread)


@torch.no_grad()
def start_at_prototypes(head, embeddings, class_index, n_classes):
    """Set ``head`` (``nn.Linear``) to the scaled nearest-class-mean classifier of the embeddings.

    Parameters
    ----------
    head : torch.nn.Linear
        With ``n_classes`` outputs.
    embeddings : ndarray of shape (n_texts, hidden_size)
        Pooled embeddings of training texts under the pretrained backbone.
    class_index : ndarray of int of shape (n_texts,)
    n_classes : int
        Every class must have at least one text.
    """
    embeddings = np.asarray(embeddings, dtype=np.float64)
    counts = np.bincount(class_index, minlength=n_classes)
    means = np.stack([embeddings[class_index == k].mean(axis=0) for k in range(n_classes)])
    scale = fit_scale(prototype_logits(embeddings, class_index, means, counts), class_index)
    rows = means - means.mean(axis=0)
    # PyTorch starts a row uniform in +-1/sqrt(fan_in): of length 1/sqrt(3).
    scale = max(scale, 1 / (np.sqrt(3) * np.linalg.norm(rows, axis=1).mean()))
    head.weight.copy_(torch.as_tensor(scale * rows, dtype=head.weight.dtype))
    head.bias.copy_(torch.as_tensor(-0.5 * scale * (means ** 2).sum(axis=1),
                                    dtype=head.bias.dtype))


@torch.no_grad()
def start_at_logistic_regression(head, embeddings, class_index, sample_weight=None):
    """Set ``head`` (``nn.Linear``) to a logistic regression fitted on ``embeddings``.

    scikit-learn's ``LogisticRegression`` with its defaults (L2 penalty,
    ``C=1``), multinomial; for two classes its one row ``w`` becomes the
    rows ``-w/2`` and ``w/2``, whose softmax is the same sigmoid.

    Parameters
    ----------
    head : torch.nn.Linear
        With one output per class; every class must occur in ``class_index``.
    embeddings : ndarray of shape (n_texts, hidden_size)
        What the head will be given: pooled embeddings of training texts.
    class_index : ndarray of int of shape (n_texts,)
    sample_weight : ndarray of shape (n_texts,) or None, default=None
    """
    model = LogisticRegression(max_iter=1000)
    model.fit(np.asarray(embeddings, dtype=np.float64), class_index, sample_weight=sample_weight)
    weight, bias = model.coef_, model.intercept_
    if head.out_features == 2:
        weight, bias = np.concatenate([-weight, weight]) / 2, np.concatenate([-bias, bias]) / 2
    head.weight.copy_(torch.as_tensor(weight, dtype=head.weight.dtype))
    head.bias.copy_(torch.as_tensor(bias, dtype=head.bias.dtype))
