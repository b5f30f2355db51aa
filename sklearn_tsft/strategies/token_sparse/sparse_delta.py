"""Trainable deltas for chosen rows of frozen weights, merged back after training.

Training a subset by masking full gradients saves nothing: the full weight
gradient is still computed and AdamW still keeps moments for every entry.
Here the frozen layer runs as usual and only the chosen rows get a small
trainable delta, so weight-gradient compute, optimizer state and updates
scale with the subset. Weight decay on a delta pulls the weights back toward
their pretrained values, not toward zero. ``merge`` writes the deltas into
the dense weights and returns the original module, bit-identical outside the
chosen rows.
"""

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D


class _RowDelta(nn.Module):
    """A frozen layer plus a trainable delta for some rows of its weight."""

    # The axis of base.weight that indexes rows (output neurons, or tokens).
    row_axis = 0

    def __init__(self, base, rows):
        super().__init__()
        base.requires_grad_(False)
        self.base = base
        self.register_buffer("rows", torch.as_tensor(rows, dtype=torch.long))
        width = base.weight.shape[1 - self.row_axis]
        self.weight_delta = nn.Parameter(torch.zeros(len(rows), width))

    @property
    def n_rows(self):
        """Rows of the base weight, chosen or not."""
        return self.base.weight.shape[self.row_axis]

    @torch.no_grad()
    def merge(self):
        """Add the deltas to the chosen rows and return the plain layer."""
        delta = self.weight_delta.to(self.base.weight.dtype)
        self.base.weight.index_add_(self.row_axis, self.rows,
                                    delta if self.row_axis == 0 else delta.T)
        return self.base


class RowDeltaLinear(_RowDelta):
    """A frozen ``nn.Linear`` whose chosen output rows train through a delta.

    Parameters
    ----------
    base : torch.nn.Linear
        The pretrained layer; it is frozen.
    rows : sequence of int
        Output neurons (rows of ``base.weight``) that may change.
    """

    def __init__(self, base, rows):
        super().__init__(base, rows)
        self.bias_delta = nn.Parameter(torch.zeros(len(rows))) if base.bias is not None else None

    def forward(self, x):
        update = x @ self.weight_delta.T.to(x.dtype)
        if self.bias_delta is not None:
            update = update + self.bias_delta.to(x.dtype)
        output = self.base(x)
        return output.index_add(-1, self.rows, update.to(output.dtype))

    @torch.no_grad()
    def merge(self):
        if self.bias_delta is not None:
            self.base.bias.index_add_(0, self.rows, self.bias_delta.to(self.base.bias.dtype))
        return super().merge()


class RowDeltaConv1D(RowDeltaLinear):
    """:class:`RowDeltaLinear` for GPT-2's ``Conv1D``, whose weight is stored as (in, out)."""

    row_axis = 1


class RowDeltaEmbedding(_RowDelta):
    """A frozen ``nn.Embedding`` whose chosen token rows train through a delta.

    Parameters
    ----------
    base : torch.nn.Embedding
        The pretrained embedding; it is frozen.
    rows : sequence of int
        Token ids whose embeddings may change.
    """

    def __init__(self, base, rows):
        super().__init__(base, rows)
        position = torch.full((base.num_embeddings,), -1, dtype=torch.long)
        position[self.rows] = torch.arange(len(rows))
        self.register_buffer("delta_index", position)

    @property
    def weight(self):
        # transformers reads the input embedding's weight (dtype, device).
        return self.base.weight

    def forward(self, input_ids):
        output = self.base(input_ids)
        index = self.delta_index[input_ids]
        delta = self.weight_delta[index.clamp(min=0)] * (index >= 0).unsqueeze(-1)
        return output + delta.to(output.dtype)


def attach_deltas(model, rows_by_module):
    """Replace the named submodules of ``model`` by delta wrappers.

    Parameters
    ----------
    model : torch.nn.Module
    rows_by_module : dict of str to sequence of int
        Submodule name -> rows that may change; the module must be an
        ``nn.Linear``, a ``Conv1D`` (GPT-2) or an ``nn.Embedding``.
    """
    for name, rows in rows_by_module.items():
        base = model.get_submodule(name)
        wrapper = (RowDeltaEmbedding if isinstance(base, nn.Embedding)
                   else RowDeltaConv1D if isinstance(base, Conv1D) else RowDeltaLinear)
        model.set_submodule(name, wrapper(base, rows))


def merge_deltas(model, where=lambda name: True):
    """Merge the delta wrappers in ``model`` (those whose name ``where`` accepts)
    into their dense weights, in place."""
    wrapped = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, _RowDelta) and where(name)
    ]
    for name, module in wrapped:
        model.set_submodule(name, module.merge())
    return model
