"""Reusing the outputs of frozen lower blocks across epochs.

When nothing below block ``k`` trains, the states entering block ``k`` are
the same in every epoch. :class:`FrozenBlockCache` computes them once per
text (in eval mode, without autograd), keeps them, and runs only the upper
blocks afterwards, so later epochs cost the upper blocks alone.

It needs no knowledge of the architecture beyond its block list
(:func:`~sklearn_tsft.backbone.block_names`): a forward pre-hook on block
``k`` reads the states entering it (the first pass stops there), and in
later passes the block list holds only the upper blocks while the same
hook hands block ``k`` the cached states instead of what the embeddings
computed. Masks, rotary or relative positions and final norms are computed
by the model's own forward as usual. So it works alike for BERT-style
encoders, DistilBERT, DeBERTa, MPNet, ModernBERT, GPT-2 and Llama-style
decoders (``tests/test_backbones.py``).
"""

import contextlib

import torch
from skorch.callbacks import Callback
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Subset

from .._data import batch_length_groups, batch_rows
from ..backbone import TextClassifierModule, block_names

# How blocks name the states they are given, when not as the first argument.
_STATE_KEYWORDS = ("hidden_states", "hidden_state", "x")


class _ReachedBlock(Exception):
    def __init__(self, states):
        super().__init__()
        self.states = states


def _state_position(args, kwargs):
    if args:
        return 0
    for keyword in _STATE_KEYWORDS:
        if keyword in kwargs:
            return keyword
    raise TypeError(f"cannot find the hidden states among a block's arguments ({list(kwargs)})")


def _states_given(args, kwargs):
    position = _state_position(args, kwargs)
    return args[0] if position == 0 else kwargs[position]


def _with_states(args, kwargs, states):
    position = _state_position(args, kwargs)
    if position == 0:
        return (states, *args[1:]), kwargs
    return args, {**kwargs, position: states}


@contextlib.contextmanager
def _pre_hook(block, hook):
    handle = block.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


class FrozenBlockCache(TextClassifierModule):
    """Training view of a classifier module whose blocks below ``first_trained`` are frozen.

    Parameters
    ----------
    module : TextClassifierModule
        The module being trained; its parts are shared, not copied.
    first_trained : int
        Index of the lowest block with anything to train.
    """

    # A training pass over the upper blocks costs little per position, so
    # splitting its batch by length costs more in fixed per-pass work than
    # the padding it saves (measured on MiniLM's top block: 8 ms a step
    # slower). Filling the cache runs the lower blocks and is grouped.
    length_grouped = False

    def __init__(self, module, first_trained):
        # The module's own parts under their own names (not a new head), so
        # that parameter names (the optimizer's "head.*" group, early
        # stopping's saved states) are those of the plain module.
        nn.Module.__init__(self)
        self.encoder, self.dropout, self.head = module.encoder, module.dropout, module.head
        self.pooling = module.pooling
        self.first_trained = first_trained
        # The block list by path, not as a submodule: registered twice, its
        # parameters would get a second name.
        block_list = block_names(module.encoder)[0].rsplit(".", 1)[0]  # "encoder.layer"
        self._blocks_owner, _, self._blocks_attribute = block_list.rpartition(".")
        self._cache = {}

    def _block_list(self):
        return self.encoder.get_submodule(self._blocks_owner) if self._blocks_owner else self.encoder

    @contextlib.contextmanager
    def _only_upper_blocks(self):
        owner = self._block_list()
        blocks = getattr(owner, self._blocks_attribute)
        setattr(owner, self._blocks_attribute, nn.ModuleList(blocks[self.first_trained:]))
        try:
            yield
        finally:
            setattr(owner, self._blocks_attribute, blocks)

    def _first_trained_block(self):
        return getattr(self._block_list(), self._blocks_attribute)[self.first_trained]

    def _lower_states(self, input_ids, attention_mask):
        def stop(block, args, kwargs):
            raise _ReachedBlock(_states_given(args, kwargs))

        encoder = self.encoder
        was_training = encoder.training
        encoder.eval()
        try:
            with torch.no_grad(), _pre_hook(self._first_trained_block(), stop):
                encoder(input_ids=input_ids, attention_mask=attention_mask)
        except _ReachedBlock as reached:
            return reached.states
        finally:
            encoder.train(was_training)
        raise RuntimeError("the encoder never ran its blocks; the frozen-block cache cannot "
                           "serve this architecture")

    def fill(self, batches):
        """Cache the states of the texts of ``batches`` that are not cached yet.

        Parameters
        ----------
        batches : iterable of (dict, Tensor)
            Collated batches (``input_ids``, ``attention_mask``,
            ``example_index``) and their targets, which are not used.
        """
        device = next(self.encoder.parameters()).device
        for inputs, _ in batches:
            self._fill(inputs["input_ids"].to(device), inputs["attention_mask"].to(device),
                       inputs["example_index"].tolist())

    def _fill(self, input_ids, attention_mask, indices):
        missing = torch.as_tensor([row for row, index in enumerate(indices)
                                   if index not in self._cache], dtype=torch.long)
        if not len(missing):
            return
        # Filling the cache runs every lower block: texts of similar length
        # go through together (on a CPU), as training passes do.
        batch = {"input_ids": input_ids, "attention_mask": attention_mask}
        for group in batch_length_groups(attention_mask[missing]) or [range(len(missing))]:
            rows = missing[torch.as_tensor(group)]
            part = batch_rows(batch, rows, attention_mask)
            states = self._lower_states(part["input_ids"], part["attention_mask"])
            lengths = part["attention_mask"].sum(dim=1).tolist()
            for row, state, length in zip(rows.tolist(), states, lengths):
                self._cache[indices[row]] = state[:length].clone()

    def _cached_states(self, input_ids, attention_mask, example_index):
        indices = example_index.tolist()
        self._fill(input_ids, attention_mask, indices)
        # The longest text of the batch sets its width, as it did for input_ids.
        return pad_sequence([self._cache[index] for index in indices], batch_first=True)

    def forward(self, input_ids, attention_mask, example_index):
        states = self._cached_states(input_ids, attention_mask, example_index)

        def inject(block, args, kwargs):
            return _with_states(args, kwargs, states)

        with _pre_hook(self._first_trained_block(), inject), self._only_upper_blocks():
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        return self.classify(hidden.last_hidden_state, attention_mask)


class FillCacheInOneSweep(Callback):
    """Fill a :class:`FrozenBlockCache` for every training text before it first trains.

    Left to the training batches, the cache fills with each batch's texts
    as training first meets them: texts of mixed lengths, in many small
    passes. One sweep over the training texts sorted by length makes fewer
    passes, each padding little. A net that trains no cache (or trains it
    under Accelerate, wrapped) is left alone.
    """

    def on_train_begin(self, net, X=None, **kwargs):
        self.dataset_ = X
        self.filled_ = None

    def on_batch_begin(self, net, training=None, **kwargs):
        view = net.module_
        if not training or not isinstance(view, FrozenBlockCache) or view is self.filled_:
            return
        # An item's first element is its token ids, or (long texts in
        # windows) its windows: their count orders such texts by length.
        order = sorted(range(len(self.dataset_)), key=lambda i: len(self.dataset_[i][0]))
        view.fill(net.get_iterator(Subset(self.dataset_, order), training=False))
        self.filled_ = view

    def on_train_end(self, net, **kwargs):
        self.dataset_ = self.filled_ = None  # the cache goes with the training view


def with_frozen_block_cache(module, first_trained):
    """Wrap ``module`` in a :class:`FrozenBlockCache` when blocks below ``first_trained`` are frozen.

    Otherwise (nothing frozen) ``module`` is returned as it is.
    """
    return FrozenBlockCache(module, first_trained) if first_trained > 0 else module
