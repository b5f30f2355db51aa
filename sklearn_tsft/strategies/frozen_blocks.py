"""Reusing the outputs of frozen lower blocks across epochs.

When nothing below block ``k`` trains, the states entering block ``k`` are
the same in every epoch. :class:`FrozenBlockCache` computes them once per
text (in eval mode, without autograd), keeps them, and runs only the upper
blocks afterwards, so later epochs cost the upper blocks alone.

It works for BERT-style encoders (an ``embeddings`` module and post-norm
blocks in ``encoder.layer``: BERT, RoBERTa, ELECTRA, MiniLM, ...), whose
forward accepts ``inputs_embeds``: the embedding module is swapped for a
pass-through and the block list for its upper or lower part while the
encoder runs.
"""

import contextlib

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from ..backbone import TextClassifierModule, block_names


def supports_frozen_block_cache(encoder):
    """Whether ``encoder`` has the BERT-style layout this module relies on."""
    return hasattr(encoder, "embeddings") and block_names(encoder)[0] == "encoder.layer.0"


class _PassThroughEmbeddings(nn.Module):
    def forward(self, inputs_embeds=None, **kwargs):
        return inputs_embeds


@contextlib.contextmanager
def _swapped(encoder, blocks, embeddings):
    original_blocks, original_embeddings = encoder.encoder.layer, encoder.embeddings
    encoder.encoder.layer, encoder.embeddings = blocks, embeddings
    try:
        yield
    finally:
        encoder.encoder.layer, encoder.embeddings = original_blocks, original_embeddings


class FrozenBlockCache(TextClassifierModule):
    """Training view of a classifier module whose blocks below ``first_trained`` are frozen.

    Parameters
    ----------
    module : TextClassifierModule
        The module being trained; its parts are shared, not copied.
    first_trained : int
        Index of the lowest block with anything to train.
    """

    def __init__(self, module, first_trained):
        # The module's own parts under their own names (not a new head), so
        # that parameter names (the optimizer's "head.*" group, early
        # stopping's saved states) are those of the plain module.
        nn.Module.__init__(self)
        self.encoder, self.dropout, self.head = module.encoder, module.dropout, module.head
        self.first_trained = first_trained
        self._cache = {}

    def _lower_states(self, input_ids, attention_mask):
        encoder = self.encoder
        lower = nn.ModuleList(encoder.encoder.layer[: self.first_trained])
        was_training = encoder.training
        encoder.eval()
        try:
            with torch.no_grad(), _swapped(encoder, lower, encoder.embeddings):
                return encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        finally:
            encoder.train(was_training)

    def _cached_states(self, input_ids, attention_mask, example_index):
        indices = example_index.tolist()
        missing = [row for row, index in enumerate(indices) if index not in self._cache]
        if missing:
            states = self._lower_states(input_ids[missing], attention_mask[missing])
            lengths = attention_mask[missing].sum(dim=1).tolist()
            for row, state, length in zip(missing, states, lengths):
                self._cache[indices[row]] = state[:length].clone()
        # The longest text of the batch sets its width, as it did for input_ids.
        return pad_sequence([self._cache[index] for index in indices], batch_first=True)

    def forward(self, input_ids, attention_mask, example_index):
        encoder = self.encoder
        states = self._cached_states(input_ids, attention_mask, example_index)
        upper = nn.ModuleList(encoder.encoder.layer[self.first_trained :])
        with _swapped(encoder, upper, _PassThroughEmbeddings()):
            hidden = encoder(inputs_embeds=states, attention_mask=attention_mask).last_hidden_state
        return self.classify(hidden, attention_mask)


def with_frozen_block_cache(module, first_trained):
    """Wrap ``module`` in a :class:`FrozenBlockCache` where that saves work.

    It does when blocks below ``first_trained`` are frozen and the encoder
    has the BERT-style layout; otherwise ``module`` is returned as it is.
    """
    if first_trained > 0 and supports_frozen_block_cache(module.encoder):
        return FrozenBlockCache(module, first_trained)
    return module
