"""Sensitivity of weight rows at task-token positions, and the budgeted choice of rows.

For a linear layer ``y = W x + b``, the first-order effect on the loss of
output neuron ``j`` at position ``t`` is ``dL/dy[t, j] * y[t, j]``. Summing its
magnitude over the positions of task tokens scores row ``j`` of ``W`` by how
much the task-specific tokens flow through it. The loss comes from a
nearest-class-mean head (cosine to each class's mean embedding), so the
gradients mean something before the real head has been trained.
"""

import numpy as np
import torch
import torch.nn.functional as F

from ...backbone import fan_in, fan_out
from ...modeling_tsft import mean_pool

# Cosine similarities lie in [-1, 1]; scaling them gives a softmax that is
# neither flat nor saturated.
_PROTOTYPE_SCALE = 20.0


def _pooled(encoder, inputs):
    # Mean pooling on purpose, whatever the estimator's pooling (decoders
    # classify their last token): the scores are read at the task tokens'
    # positions, and only a pooling over every position gives each of them
    # a direct gradient, instead of one passed back through attention.
    hidden = encoder(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
    return F.normalize(mean_pool(hidden.last_hidden_state, inputs["attention_mask"]), dim=-1)


@torch.no_grad()
def class_prototypes(encoder, batches, n_classes):
    """Normalised mean pooled embedding of each class over ``batches``."""
    sums = None
    for inputs, labels in batches:
        pooled = _pooled(encoder, inputs)
        if sums is None:
            sums = torch.zeros(n_classes, pooled.shape[-1], device=pooled.device)
        sums.index_add_(0, labels.to(pooled.device), pooled)
    return F.normalize(sums, dim=-1)


def row_sensitivity(encoder, layers, batches, task_token_ids, n_classes):
    """Score every output row of every linear layer at task-token positions.

    Parameters
    ----------
    encoder : transformers.PreTrainedModel
    layers : dict of str to nn.Linear or Conv1D
        The layers to score; gradients flow down to the lowest of them only.
    batches : list of (dict, Tensor)
        Padded training batches (``input_ids``, ``attention_mask``) and
        labels, on the encoder's device.
    task_token_ids : Tensor of int64
        Ids whose positions count.
    n_classes : int

    Returns
    -------
    scores : dict of str to ndarray
        Linear layer name -> one non-negative score per output row.
    """
    prototypes = class_prototypes(encoder, batches, n_classes)
    scores = {
        name: torch.zeros(fan_out(layer), device=layer.weight.device)
        for name, layer in layers.items()
    }
    outputs = {}

    def keep_output(name):
        def hook(module, args, output):
            output.retain_grad()
            outputs[name] = output

        return hook

    handles = [layer.register_forward_hook(keep_output(name)) for name, layer in layers.items()]
    was_frozen = {param: not param.requires_grad for param in encoder.parameters()}
    for layer in layers.values():
        layer.requires_grad_(True)
    try:
        for inputs, labels in batches:
            is_task = torch.isin(inputs["input_ids"], task_token_ids).unsqueeze(-1)
            logits = _PROTOTYPE_SCALE * _pooled(encoder, inputs) @ prototypes.T
            F.cross_entropy(logits, labels.to(logits.device)).backward()
            for name, output in outputs.items():
                if output.grad is None:  # not on the path to the loss (a pooler)
                    continue
                contribution = (output.grad * output).abs() * is_task
                scores[name] += contribution.sum(dim=(0, 1)).detach()
            outputs.clear()
    finally:
        for handle in handles:
            handle.remove()
        for param, frozen in was_frozen.items():
            param.requires_grad_(not frozen)
            param.grad = None
    return {name: score.cpu().numpy() for name, score in scores.items()}


def choose_rows(scores, layers, budget):
    """Pick the rows with the highest sensitivity per parameter within ``budget``.

    Parameters
    ----------
    scores : dict of str to ndarray
        From :func:`row_sensitivity`.
    layers : dict of str to nn.Linear or Conv1D
        The layers the scores belong to (a row costs its ``fan_in`` weights
        plus its bias).
    budget : int
        Number of weights that may change.

    Returns
    -------
    rows : dict of str to ndarray of int
        Layer name -> sorted chosen rows (layers with none are left out).
    """
    names = sorted(scores)
    costs = np.concatenate(
        [np.full(len(scores[n]), fan_in(layers[n]) + (layers[n].bias is not None)) for n in names]
    )
    owner = np.concatenate([np.full(len(scores[n]), i) for i, n in enumerate(names)])
    row = np.concatenate([np.arange(len(scores[n])) for n in names])
    value = np.concatenate([scores[n] for n in names]) / costs
    order = np.argsort(-value, kind="stable")
    within = order[np.cumsum(costs[order]) <= budget]
    within = within[value[within] > 0]
    chosen = {}
    for index in within:
        chosen.setdefault(names[owner[index]], []).append(row[index])
    return {name: np.sort(np.array(rows)) for name, rows in chosen.items()}
