"""The contrastive objective: its loss, its batch order and when it is chosen.

With ``objective="contrastive"`` a fit trains the strategy's parameters
with the supervised contrastive loss of Khosla et al. (2020) on the pooled
embeddings, in batches built so that every text meets others of its class
(:class:`ClassGroupedOrder`), and then sets the linear head to a logistic
regression on the adapted embeddings
(:func:`~sklearn_tsft.head_init.start_at_logistic_regression`). The head
never trains through the backbone, so a few texts per class cannot drive
a cross-entropy to zero through it (``docs/method.md``). It is SetFit's
order (contrastive encoder, then a linear classifier) without its pairs:
the loss compares every text of a batch with every other, so its cost is
that of one forward pass per text. The backbone trains with its dropout
off (:func:`switch_off_dropout`). The net that trains it is
:class:`~sklearn_tsft.training.ContrastiveNet`.
"""

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import Sampler

# What a fit can train: objective_'s values.
OBJECTIVES = ("cross_entropy", "contrastive")
# Cosine similarities are divided by it; 0.1 as in Khosla et al.
TEMPERATURE = 0.1
# Texts of one class that sit side by side in a batch: every text of a
# group has at least GROUP_SIZE - 1 positives in its batch.
GROUP_SIZE = 4
# objective="auto": contrastive when the median class has at most this
# many training texts (docs/method.md).
MAX_TEXTS_PER_CLASS = 32


def resolve_objective(objective, class_index, possible=True):
    """``"cross_entropy"`` or ``"contrastive"``: what ``objective`` means for these labels.

    Parameters
    ----------
    objective : {"auto", "cross_entropy", "contrastive"}
    class_index : ndarray of int of shape (n_texts,)
        The training texts' classes.
    possible : bool, default=True
        Whether the fit can train contrastively (not for multi-label data,
        under Accelerate or with nothing but the head to train); if not,
        ``"auto"`` is cross-entropy. An explicit ``"contrastive"`` is
        refused before this is asked.

    Examples
    --------
    >>> resolve_objective("auto", np.repeat([0, 1], 10))
    'contrastive'
    >>> resolve_objective("auto", np.repeat([0, 1], 200))
    'cross_entropy'
    """
    if objective != "auto":
        return objective
    if not possible:
        return "cross_entropy"
    counts = np.bincount(class_index)
    return "contrastive" if np.median(counts[counts > 0]) <= MAX_TEXTS_PER_CLASS else "cross_entropy"


def switch_off_dropout(module):
    """Set the rate of every ``torch.nn.Dropout`` in ``module`` to 0, in place.

    The contrastive objective trains without dropout: on the packaged
    MiniLM, at 10 texts per class, token_sparse's 5 seeds on
    rotten_tomatoes scored 60.4 +- 2.4 with dropout and 64.5 +- 1.4
    without, full finetuning's 64.0 +- 0.8 and 65.3 +- 1.4. On
    all-mpnet-base-v2 the same cell lost 4.7 points at the deltas' rate
    of 1e-3 (``docs/method.md``, "Few labels: dropout").

    Parameters
    ----------
    module : torch.nn.Module
    """
    for layer in module.modules():
        if isinstance(layer, torch.nn.Dropout):
            layer.p = 0.0


def supervised_contrastive_loss(embeddings, labels, temperature=TEMPERATURE):
    """Per-text supervised contrastive loss (Khosla et al. 2020, the "out" form).

    Each text is pulled towards the other texts of its class in the batch
    and pushed from the rest: minus the mean, over its positives, of the
    log-softmax of its cosine similarities to every other text.

    Parameters
    ----------
    embeddings : Tensor of shape (n, d)
    labels : Tensor of int of shape (n,)
    temperature : float, default=TEMPERATURE

    Returns
    -------
    losses : Tensor of shape (n,)
        Zero for a text with no other text of its class in the batch.
    """
    unit = F.normalize(embeddings.float(), dim=1)
    similarity = unit @ unit.T / temperature
    itself = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    log_prob = similarity.masked_fill(itself, float("-inf")).log_softmax(dim=1)
    positives = (labels[:, None] == labels[None, :]) & ~itself
    n_positives = positives.sum(dim=1)
    summed = log_prob.masked_fill(~positives, 0).sum(dim=1)
    return -summed / n_positives.clamp(min=1)


class ClassGroupedOrder(Sampler):
    """Shuffled text order in which texts of one class come in groups of ``GROUP_SIZE``.

    Each pass shuffles the texts within their classes, cuts each class into
    groups (the last may be shorter), and shuffles the groups; so every
    batch holds whole groups, and a text has positives for the contrastive
    loss even among many classes.

    Parameters
    ----------
    class_index : ndarray of int of shape (n_texts,)
    generator : torch.Generator
    """

    def __init__(self, class_index, generator):
        self.class_index = np.asarray(class_index)
        self.generator = generator

    def __len__(self):
        return len(self.class_index)

    def __iter__(self):
        groups = []
        for k in np.unique(self.class_index):
            members = np.flatnonzero(self.class_index == k)
            members = members[torch.randperm(len(members), generator=self.generator).numpy()]
            groups += np.split(members, range(GROUP_SIZE, len(members), GROUP_SIZE))
        order = torch.randperm(len(groups), generator=self.generator).tolist()
        return iter(np.concatenate([groups[g] for g in order]).tolist())
