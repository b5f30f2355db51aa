"""The ``"token_sparse"`` strategy: the seed paper's method, in three stages.

1. Task token groups from the training data (:mod:`.task_tokens`), with
   adaptive tokenization into reserved vocabulary slots.
2. Rows of every linear layer scored by their sensitivity at task-token
   positions, chosen under a budget of ``sparsity`` x backbone weights
   (:mod:`.selection`), plus the embedding rows of the task tokens.
3. Only deltas for those rows train (:mod:`.sparse_delta`); they are merged
   into the dense weights when training ends.
"""

import math
import numbers
import warnings

import numpy as np
import torch
from skorch.callbacks import Callback

from ..._data import TextTokenizer
from ...backbone import attention_key_rows, block_names, block_of, linear_layers
from ..._params import Boolean, Interval
from .._base import N_LAYERS_CONSTRAINT, Parameter, Strategy, freeze, lowest_trained_block
from ..frozen_blocks import with_frozen_block_cache
from .selection import choose_rows, row_sensitivity
from .sparse_delta import attach_deltas, merge_deltas
from .task_tokens import (
    TaskToken,
    assign_slots,
    describe,
    discover_task_tokens,
    free_slots,
    initialise_slot_embeddings,
    with_words_in_slots,
)

# Texts sampled for the sensitivity scores: enough batches for stable
# rankings, few enough to cost a small fraction of one epoch.
SELECTION_TEXTS = 256
SELECTION_BATCH_SIZE = 32
# n_layers="auto": the optimizer steps trained at full depth are
# FULL_DEPTH_BLOCKS / n_blocks of them, at most MAX_FULL_DEPTH_SHARE (a
# quarter on MiniLM's 6 blocks, an eighth on MPNet's 12, whose lower blocks
# adapted for a quarter cost up to 6 points; docs/method.md, "The depth
# schedule on 12 blocks"). After them, the top NARROWED_BLOCKS_SHARE of the
# blocks (at least one) train while the lower ones are merged, frozen and
# cached.
FULL_DEPTH_BLOCKS = 1.5
MAX_FULL_DEPTH_SHARE = 1 / 4
NARROWED_BLOCKS_SHARE = 1 / 6
# lr="auto": TokenSparse.default_lr on encoders up to REFERENCE_WIDTH wide
# (MiniLM's 384, where it was tuned), shrinking as 1 / sqrt(width) on wider
# ones: 7.1e-4 on MPNet's 768, where 1e-3 sits near the edge at 20 texts
# (docs/method.md, "The deltas' learning rate on 12 blocks").
REFERENCE_WIDTH = 384


class NarrowAfterStep(Callback):
    """After ``step`` optimizer steps, train ``narrow(module)`` instead of the module."""

    def __init__(self, step, narrow):
        self.step = step
        self.narrow = narrow

    def on_train_begin(self, net, **kwargs):
        self.steps_done_ = 0

    def on_batch_end(self, net, training=None, **kwargs):
        if training:
            self.steps_done_ += 1
            if self.steps_done_ == self.step:
                net.module_ = self.narrow(net.module_)


def full_depth_share(n_blocks):
    """Share of the optimizer steps that ``n_layers="auto"`` trains at full depth.

    Examples
    --------
    >>> full_depth_share(6), full_depth_share(12), full_depth_share(2)
    (0.25, 0.125, 0.25)
    """
    return min(MAX_FULL_DEPTH_SHARE, FULL_DEPTH_BLOCKS / n_blocks)


def narrowed_block_count(n_blocks):
    """Top blocks that ``n_layers="auto"`` still trains after the full-depth steps.

    Examples
    --------
    >>> narrowed_block_count(6), narrowed_block_count(12), narrowed_block_count(2)
    (1, 2, 1)
    """
    return max(1, round(NARROWED_BLOCKS_SHARE * n_blocks))


def width_scale(hidden_size):
    """Factor on the deltas' default learning rate for an encoder this wide.

    Examples
    --------
    >>> width_scale(384), round(width_scale(768), 3), width_scale(32)
    (1.0, 0.707, 1.0)
    """
    return min(1.0, math.sqrt(REFERENCE_WIDTH / hidden_size))


def min_count(n_texts):
    """Texts a word must appear in to count as a task token.

    3 keeps one-off words (typos, names) out; small training sets (under 60
    texts) would have none left, so the bar drops to n_texts // 20, at least 1.
    """
    return int(np.clip(n_texts // 20, 1, 3))


def _module_name(root, target):
    return next(name for name, module in root.named_modules() if module is target)


class TokenSparse(Strategy):
    """Token-driven sparse finetuning (see module docstring)."""

    # Deltas start at zero and are few: a larger step than end-to-end
    # finetuning's. 1e-3 measured best of 2e-4..5e-3 on MiniLM once the head
    # trained at its own head_lr (docs/method.md); 5e-3 had been tuned while
    # the head shared the deltas' rate.
    default_lr = 1e-3
    parameters = (
        Parameter("sparsity", 0.05, Interval(numbers.Real, 0, 1, closed="right"),
                  "fraction of the backbone's weights that may change"),
        Parameter("n_task_tokens", 200, Interval(numbers.Integral, 1, None),
                  "task words (chi-square against the labels) that guide the selection"),
        Parameter("adaptive_tokenization", True, Boolean(),
                  "give multi-piece task words one token of their own"),
        Parameter("n_layers", "auto", N_LAYERS_CONSTRAINT,
                  "where rows are chosen (auto: the depth schedule; None: every block "
                  "throughout; k: the top k blocks)"),
    )

    def learning_rate(self, encoder):
        return self.default_lr * width_scale(encoder.config.hidden_size)

    def build_tokenizer(self, tokenizer, encoder, texts, labels, max_length):
        groups, scores, counts = discover_task_tokens(
            tokenizer, texts, labels,
            n_groups=self.n_task_tokens, min_count=min_count(len(texts)), max_length=max_length,
        )
        if not groups:
            raise ValueError(
                f"No task token group found: no word occurs in {min_count(len(texts))} or "
                "more training texts with a frequency that depends on the label (are "
                "the texts empty?). Use more or richer data, or strategy='full'."
            )
        merges = {}
        if self.adaptive_tokenization:
            slots = free_slots(tokenizer, encoder.get_input_embeddings().num_embeddings)
            if not slots:
                warnings.warn(
                    "adaptive_tokenization: the tokenizer has no reserved [unusedN] entries "
                    "and the embedding matrix no rows beyond the vocabulary; task words "
                    "keep their subword pieces.",
                    UserWarning,
                )
            merges = assign_slots(groups, slots)
            initialise_slot_embeddings(encoder.get_input_embeddings(), merges)
        self.task_tokens_ = describe(tokenizer, groups, scores, counts, merges)
        # Best group first, so a small budget keeps the strongest embedding rows.
        ids_by_score = ((merges[g],) if g in merges else g for g in groups)
        self.task_token_ids_ = list(dict.fromkeys(i for ids in ids_by_score for i in ids))
        tokenizer = with_words_in_slots(
            tokenizer, {token.word: token.slot for token in self.task_tokens_
             if token.slot is not None}
        )
        return TextTokenizer(tokenizer, max_length)

    def _selection_batches(self, dataset, collate, device):
        order = torch.randperm(len(dataset))[:SELECTION_TEXTS].tolist()
        # Batches of texts of similar length pad little. Each text's scores
        # are its own (the loss is a mean over the batch of per-text terms),
        # so which texts share a batch does not change them.
        order.sort(key=lambda index: len(dataset[index][0]))
        batches = []
        for start in range(0, len(order), SELECTION_BATCH_SIZE):
            inputs, labels = collate([dataset[i] for i in order[start : start + SELECTION_BATCH_SIZE]])
            batches.append(({key: value.to(device) for key, value in inputs.items()}, labels))
        return batches

    def prepare(self, module, dataset, collate, device):
        encoder = module.to(device).encoder
        n_backbone = sum(p.numel() for p in encoder.parameters())
        budget = int(self.sparsity * n_backbone)
        blocks = self._block_names = block_names(encoder)
        # "auto" starts at full depth and narrows later (training_callbacks).
        lowest = lowest_trained_block(None if self.n_layers == "auto" else self.n_layers,
                                      len(blocks))
        narrowed = narrowed_block_count(len(blocks))
        self._narrowed_depth = (lowest_trained_block(narrowed, len(blocks))
                                if self.n_layers == "auto" else None)
        layers = {}
        for name, layer in linear_layers(encoder).items():
            block = block_of(name, blocks)
            if block is not None and block >= lowest:
                layers[name] = layer
        rows = {}
        if lowest == 0:
            # Training reaches the bottom: the task tokens' embedding rows
            # train too, first in the budget, best tokens first.
            embeddings = encoder.get_input_embeddings()
            n_rows = min(len(self.task_token_ids_), budget // embeddings.embedding_dim)
            if n_rows:
                rows[_module_name(encoder, embeddings)] = np.sort(self.task_token_ids_[:n_rows])
                budget -= n_rows * embeddings.embedding_dim
        scores = row_sensitivity(
            encoder,
            layers,
            self._selection_batches(dataset, collate, device),
            torch.as_tensor(self.task_token_ids_, device=device),
            n_classes=int(np.max(dataset.labels)) + 1,
        )
        # Scaling row j of a query projection changes the attention logits
        # as scaling row j of the key projection does (both scale the j-th
        # term of q . k; exactly so without rotary positions), so the two
        # rows' sensitivities measure one effect twice: the budget goes to
        # the query rows (docs/method.md).
        for name, layer in layers.items():
            scores[name][attention_key_rows(name, layer)] = 0
        rows.update(choose_rows(scores, layers, budget))
        freeze(encoder)
        attach_deltas(encoder, rows)
        self.selected_rows_ = dict(sorted(rows.items()))
        self.selection_summary_ = {
            name: (len(chosen), encoder.get_submodule(name).n_rows)
            for name, chosen in self.selected_rows_.items()
        }
        first_trained = min((block_of(name, blocks) or 0) for name in rows) if rows else 0
        return with_frozen_block_cache(module, first_trained)

    def training_callbacks(self, n_steps):
        step = max(1, round(full_depth_share(len(self._block_names)) * n_steps))
        if self._narrowed_depth is None or step >= n_steps or not self._rows_above_narrowing():
            return []
        return [("depth_schedule", NarrowAfterStep(step, self.narrow))]

    def _rows_above_narrowing(self):
        # A small budget may choose no row in the top blocks; narrowing
        # would then leave nothing of the backbone to train (nothing at all
        # under the contrastive objective, whose head is fitted afterwards).
        chosen = (block_of(name, self._block_names) for name in self.selected_rows_)
        return any(block is not None and block >= self._narrowed_depth for block in chosen)

    def narrow(self, module):
        """Merge and freeze what lies below the top blocks; return the cached training view.

        ``module`` is the plain module being trained (``prepare`` returned it
        uncached, since training starts at full depth). Its parameters stay
        the same objects, so the optimizer carries on with the upper deltas
        and the head; the merged deltas no longer get gradients.
        """
        blocks = block_names(module.encoder)

        def below(name):
            block = block_of(name, blocks)
            return block is None or block < self._narrowed_depth

        merge_deltas(module.encoder, where=below)
        return with_frozen_block_cache(module, self._narrowed_depth)

    def finalize(self, module):
        merge_deltas(module.encoder)
        return module

    def fitted_attributes(self):
        return {
            "task_tokens_": self.task_tokens_,
            "selected_rows_": self.selected_rows_,
            "selection_summary_": self.selection_summary_,
        }

    @staticmethod
    def attributes_to_json(estimator):
        return {
            "task_tokens_": [list(token) for token in estimator.task_tokens_],
            "selected_rows_": {name: rows.tolist()
                               for name, rows in estimator.selected_rows_.items()},
            "selection_summary_": estimator.selection_summary_,
        }

    @staticmethod
    def attributes_from_json(data):
        return {
            "task_tokens_": [
                TaskToken(word, score, count, tuple(pieces), slot)
                for word, score, count, pieces, slot in data["task_tokens_"]
            ],
            "selected_rows_": {name: np.asarray(rows, dtype=np.int64)
                               for name, rows in data["selected_rows_"].items()},
            "selection_summary_": {name: tuple(sizes)
                                   for name, sizes in data["selection_summary_"].items()},
        }
