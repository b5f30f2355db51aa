"""Strategies that train parts of the backbone as they are: full, head, bitfit, layers."""

from ..backbone import block_names
from ._base import N_LAYERS_CONSTRAINT, Parameter, Strategy, freeze, lowest_trained_block
from .frozen_blocks import with_frozen_block_cache


class FullFinetuning(Strategy):
    """End-to-end finetuning: every parameter trains."""

    def prepare(self, module, dataset, collate, device):
        for param in module.parameters():
            param.requires_grad_(True)
        return module


class HeadOnly(Strategy):
    """Frozen backbone; only the classification head trains."""

    def prepare(self, module, dataset, collate, device):
        freeze(module.encoder)
        return module


class BitFit(Strategy):
    """Only the backbone's biases (and the head) train (Ben Zaken et al., 2022)."""

    # Biases are few and start at pretrained values; like the token_sparse
    # deltas they need a larger step than end-to-end finetuning.
    default_lr = 5e-3

    def prepare(self, module, dataset, collate, device):
        freeze(module.encoder)
        for name, param in module.encoder.named_parameters():
            if name.endswith("bias"):
                param.requires_grad_(True)
        return module


class TopLayers(Strategy):
    """Layer selection: the top ``n_layers`` transformer blocks (and the head) train.

    The frozen blocks below are run once per text and reused across epochs
    where the architecture allows (:mod:`.frozen_blocks`).
    """

    parameters = (
        Parameter("n_layers", "auto", N_LAYERS_CONSTRAINT,
                  "the top n_layers blocks train (auto: the top third, at least one; "
                  "None: all blocks)"),
    )

    def prepare(self, module, dataset, collate, device):
        freeze(module.encoder)
        blocks = block_names(module.encoder)
        lowest = lowest_trained_block(self.n_layers, len(blocks))
        for name in blocks[lowest:]:
            module.encoder.get_submodule(name).requires_grad_(True)
        return with_frozen_block_cache(module, lowest)
