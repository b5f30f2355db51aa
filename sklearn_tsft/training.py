"""The skorch net that trains a :class:`~sklearn_tsft.backbone.TextClassifierModule`.

skorch runs the loop, the callbacks (LR schedule, early stopping, progress
bar, history) and device placement. What is specific to text lives here:
batches padded to their longest text (on a CPU, passed through the module
in groups of texts of similar length), sample weights carried through the
batch into the loss, bf16 autocast, and an interrupted fit surfacing as an
error instead of skorch's "stop and keep the model".
"""

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from sklearn.base import clone
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, EarlyStopping, LRScheduler
from skorch.dataset import unpack_data
from skorch.helper import predefined_split
from skorch.hf import AccelerateMixin
from skorch.utils import to_tensor
from torch.optim.swa_utils import get_swa_avg_fn
from transformers import get_linear_schedule_with_warmup

from ._data import batch_length_groups, batch_rows
from ._device import autocast
from ._optional import import_optional
from .contrastive import ClassGroupedOrder, supervised_contrastive_loss
from .exceptions import FitInterrupted, NonFiniteLoss
from .long_texts import combine_windows
from .progress import PlainPrintLog
from .strategies.frozen_blocks import FillCacheInOneSweep


# max_epochs="auto": at least this many passes, and enough passes for at
# least MIN_STEPS optimizer steps, so that a few texts per class still get
# the steps that a few thousand texts get in three passes.
MIN_EPOCHS = 3
MIN_STEPS = 100


def training_steps(n_train, batch_size, max_epochs):
    """Optimizer steps of a fit: batches per epoch (the last may be short) x epochs.

    >>> training_steps(n_train=500, batch_size=32, max_epochs=7)
    112
    """
    return int(np.ceil(n_train / batch_size)) * max_epochs


def resolve_max_epochs(max_epochs, n_train, batch_size):
    """The number of passes a fit makes; ``"auto"`` is sized by the data.

    Parameters
    ----------
    max_epochs : int or "auto"
        An int is returned as it is. ``"auto"``: ``MIN_EPOCHS`` (3)
        passes, or as many as ``MIN_STEPS`` (100) optimizer steps need.
    n_train : int
        Number of training texts.
    batch_size : int
        Texts per optimizer step.

    Returns
    -------
    max_epochs : int

    Examples
    --------
    >>> resolve_max_epochs("auto", n_train=2000, batch_size=32)
    3
    >>> resolve_max_epochs("auto", n_train=500, batch_size=32)
    7
    >>> resolve_max_epochs("auto", n_train=20, batch_size=32)
    100
    """
    if max_epochs != "auto":
        return max_epochs
    needed = int(np.ceil(MIN_STEPS / training_steps(n_train, batch_size, max_epochs=1)))
    return max(MIN_EPOCHS, needed)


class TextClassifierNet(NeuralNetClassifier):
    """skorch classifier over the batches of :class:`~sklearn_tsft._data.PadCollator`.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`skorch.NeuralNetClassifier`.
    precision : {"fp32", "bf16"}, default="fp32"
        Autocast dtype of the forward pass.
    chunk_pooling : {"mean", "max"}, default="mean"
        How the logits of a text's windows are combined, for batches that
        carry ``window_owner`` (:class:`~sklearn_tsft.long_texts.WindowCollator`).
    """

    def __init__(self, *args, precision="fp32", chunk_pooling="mean", **kwargs):
        super().__init__(*args, **kwargs)
        self.precision = precision
        self.chunk_pooling = chunk_pooling

    @property
    def _default_callbacks(self):
        # The epoch table (verbose=2) without colour codes in files and pipes.
        return [(name, PlainPrintLog() if name == "print_log" else callback)
                for name, callback in super()._default_callbacks]

    def get_all_learnable_params(self):
        # Frozen parameters never reach the optimizer, so no state or weight
        # decay is spent on them.
        for name, param in super().get_all_learnable_params():
            if param.requires_grad:
                yield name, param

    def infer(self, x, **fit_params):
        x = to_tensor(x, device=self.device)
        inputs = {key: value for key, value in x.items() if key != "sample_weight"}
        owner = inputs.pop("window_owner", None)
        # The batch's device, not self.device: under Accelerate that is None.
        with autocast(inputs["input_ids"].device, self.precision):
            logits = self._forward_in_length_groups(inputs, fit_params).float()
        if owner is None:
            return logits
        return combine_windows(logits, owner, len(x["sample_weight"]), self.chunk_pooling)

    def _forward_in_length_groups(self, inputs, fit_params):
        """The module's outputs for a right-padded batch, rows in the batch's order.

        On a CPU the rows go through the module in groups of similar length
        (:func:`~sklearn_tsft._data.length_groups`), each padded only to its
        own longest text; every row's output is what one pass over the whole
        batch gives (the attention mask keeps padding out of every row), and
        the loss still sees the whole batch at once.
        """
        mask = inputs["attention_mask"]
        groups = (batch_length_groups(mask) if getattr(self.module_, "length_grouped", False)
                  else None)
        if groups is None:
            return self.module_(**inputs, **fit_params)
        outputs = []
        for rows in groups:
            part = batch_rows(inputs, torch.as_tensor(rows), mask)
            outputs.append(self.module_(**part, **fit_params))
        batch_order = torch.as_tensor(np.argsort(np.concatenate(groups)))
        return torch.cat(outputs)[batch_order]

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = to_tensor(y_true, device=self.device)
        losses = self.criterion_(y_pred, y_true)
        if losses.ndim == 2:  # multi-label: one loss per text and label
            losses = losses.mean(dim=1)
        weights = to_tensor(X["sample_weight"], device=self.device)
        return (losses * weights).mean()

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch loop, reading the batch losses once per epoch.

        skorch records ``loss.item()`` after every batch, which makes the host
        wait for the accelerator each step. Here the losses stay on the device
        and are copied into the history when the loop ends (the fit's
        progress bar shows each epoch's losses once it has ended).
        """
        if iterator is None:
            return
        losses = []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            # A step may score a different batch than it was given (the
            # whole batch across processes, for AcceleratedTextClassifierNet).
            batch = step.pop("batch", batch)
            loss = step["loss"].detach()
            self.history.record_batch(f"{prefix}_loss", loss)
            self.history.record_batch(f"{prefix}_batch_size", len(batch[0]["sample_weight"]))
            self.notify("on_batch_end", batch=batch, training=training, **step)
            losses.append(loss)
        if losses:
            values = self.shared_losses(torch.stack(losses)).cpu().numpy()
            rows = self.history[-1]["batches"][-len(losses):]
            for row, value in zip(rows, values.tolist()):
                row[f"{prefix}_loss"] = value
            if not np.isfinite(values).all():
                raise NonFiniteLoss(
                    f"the {prefix} loss became {values[~np.isfinite(values)][0]} in epoch "
                    f"{len(self.history)}: training diverged. Use a smaller lr or head_lr "
                    "(or lr='auto'), and check sample_weight and class_weight."
                )
        self.history.record(f"{prefix}_batch_count", len(losses))

    def shared_losses(self, losses):
        """The batch losses recorded in the history (this process's own here)."""
        return losses

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt as exc:
            if self._stopped_early():
                raise  # skorch's EarlyStopping stops training this way
            raise FitInterrupted("training was interrupted") from exc

    def _stopped_early(self):
        return any(
            isinstance(callback, EarlyStopping) and callback.misses_ >= callback.patience
            for _, callback in self.callbacks_
        )


class ContrastiveNet(TextClassifierNet):
    """:class:`TextClassifierNet` trained with the contrastive objective.

    The module's head is an identity while it trains, so ``infer`` gives the
    (dropped-out) pooled embeddings, and the loss is the weighted mean of
    :func:`~sklearn_tsft.contrastive.supervised_contrastive_loss` over the
    batch.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = to_tensor(y_true, device=self.device)
        weights = to_tensor(X["sample_weight"], device=self.device)
        return (supervised_contrastive_loss(y_pred, y_true) * weights).mean()


class AverageTrainedWeights(Callback):
    """Stochastic weight averaging of the trained parameters from step ``start`` on.

    After each optimizer step from the ``start``-th on, the running mean of
    every trainable parameter (token_sparse's deltas, the head, ...) is
    updated with ``torch.optim.swa_utils``' average; when training ends the
    means replace the last iterate. The trained parameters must not change
    after ``start`` (token_sparse's depth schedule narrows before it).

    Parameters
    ----------
    start : int
        The first optimizer step (counted from 1) whose weights are averaged.
    """

    def __init__(self, start):
        self.start = start

    def on_train_begin(self, net, **kwargs):
        self.steps_done_ = 0
        self.n_averaged_ = 0
        self.averages_ = {}
        self._update = get_swa_avg_fn()

    def on_batch_end(self, net, training=None, **kwargs):
        if not training:
            return
        self.steps_done_ += 1
        if self.steps_done_ < self.start:
            return
        for _, param in net.get_all_learnable_params():
            if self.n_averaged_ == 0:
                self.averages_[param] = param.detach().clone()
            else:
                self.averages_[param] = self._update(self.averages_[param], param.detach(),
                                                     self.n_averaged_)
        self.n_averaged_ += 1

    @torch.no_grad()
    def on_train_end(self, net, **kwargs):
        for param, average in self.averages_.items():
            param.copy_(average)


class PeakCudaMemory(Callback):
    """Record ``torch.cuda.max_memory_allocated`` (MB) in the history after each epoch."""

    def on_train_begin(self, net, **kwargs):
        torch.cuda.reset_peak_memory_stats(net.device)

    def on_epoch_end(self, net, **kwargs):
        net.history.record("cuda_max_memory_mb",
                           torch.cuda.max_memory_allocated(net.device) / 2**20)


def make_accelerator():
    """The ``accelerate.Accelerator`` of this process (``accelerate launch`` sets it up)."""
    accelerate = import_optional("accelerate", "accelerate", "accelerate=True")
    # Frozen blocks train nothing and BERT's pooler feeds no loss, so DDP must
    # not wait for gradients from every parameter. Precision stays ours.
    return accelerate.Accelerator(
        mixed_precision="no",
        kwargs_handlers=[accelerate.DistributedDataParallelKwargs(find_unused_parameters=True)],
    )


class AcceleratedTextClassifierNet(AccelerateMixin, TextClassifierNet):
    """:class:`TextClassifierNet` trained under Hugging Face Accelerate.

    With several processes (``accelerate launch``) each trains on its share
    of every batch and only the gradients of trainable parameters (the
    strategy's deltas, adapters or blocks, and the head) are synchronised.
    The recorded losses are averaged over the processes, and validation
    scores the whole validation split on every process, so every process
    has the same history and early stopping ends them at the same epoch.
    """

    def shared_losses(self, losses):
        return self.accelerator.reduce(losses, reduction="mean")

    def validation_step(self, batch, **fit_params):
        # Each process holds a share of the batch, padded by accelerate with
        # repeated texts so the shares are even; gather_for_metrics joins the
        # shares and drops the repeats, so the loss and the cached predictions
        # that valid_acc reads cover each validation text exactly once.
        logits = super().validation_step(batch, **fit_params)["y_pred"]
        inputs, targets = unpack_data(batch)
        logits, targets, weights = self.accelerator.gather_for_metrics(
            (logits, targets, inputs["sample_weight"]))
        whole = {"sample_weight": weights}
        loss = self.get_loss(logits, targets, X=whole, training=False)
        return {"loss": loss, "y_pred": logits, "batch": (whole, targets)}

    def _initialize_accelerator(self):
        # The loss has no parameters: on several CPU processes accelerate
        # would still wrap it in DistributedDataParallel, which refuses it.
        criteria, self._criteria = self._criteria, []
        try:
            return super()._initialize_accelerator()
        finally:
            self._criteria = criteria


def check_callbacks(callbacks):
    """Refuse a ``callbacks`` parameter that skorch could not use, naming the fix."""
    if callbacks is None:
        return
    if not isinstance(callbacks, (list, tuple)):
        raise ValueError(
            f"callbacks must be None or a list of skorch callbacks (or (name, callback) "
            f"pairs), got {type(callbacks).__name__}.")
    for item in callbacks:
        named = isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
        callback = item[1] if named else item
        if not isinstance(callback, Callback):
            raise ValueError(
                f"callbacks: {item!r} is not a skorch callback (an instance of "
                "skorch.callbacks.Callback, e.g. EpochScoring('accuracy', on_train=True)) "
                "or a (name, callback) pair.")


def fresh_callbacks(callbacks):
    """Copies of the user's callbacks for one fit: the parameter itself stays untouched."""
    return [(item[0], clone(item[1], safe=False)) if isinstance(item, tuple)
            else clone(item, safe=False) for item in callbacks or ()]


@dataclass
class NetConfig:
    """Everything :func:`build_net` needs to know about one fit.

    Parameters
    ----------
    n_train : int
        Number of training texts (for the length of the LR schedule).
    n_classes : int
        Number of classes; labels are their indices.
    multilabel : bool
        Train one sigmoid per class (binary cross-entropy on an indicator
        matrix) instead of a softmax over classes.
    valid_dataset : TokenizedTexts or None
        Held-out texts scored after every epoch, or None for no validation.
    collate : callable
        Batch builder: a :class:`~sklearn_tsft._data.PadCollator`, or a
        window collator for long texts.
    backbone_lr, head_lr : float
        Peak learning rates of the backbone's trained parameters and the head.
    weight_decay, warmup_ratio : float
    batch_size, max_epochs : int
    early_stopping : int or None
    device : str
    precision : {"fp32", "bf16"}
    seed : int
        Seeds the order of the training batches.
    verbose : int
        2 or more also prints skorch's table of each epoch's losses.
    chunk_pooling : {"mean", "max"}, default="mean"
        See :class:`TextClassifierNet`.
    accelerator : accelerate.Accelerator or None, default=None
        Train under Accelerate (``device`` is then the accelerator's).
    strategy_callbacks : sequence of (str, skorch.callbacks.Callback), default=()
        The strategy's own callbacks (``Strategy.training_callbacks``).
    contrastive_classes : ndarray of int of shape (n_train,) or None, default=None
        Train the contrastive objective instead of cross-entropy
        (:class:`~sklearn_tsft.contrastive.ContrastiveNet`, whose module
        outputs embeddings), in batches grouped by these classes of the
        training texts.
    average_from : int or None, default=None
        End with the mean of the trained weights from this optimizer step
        on (:class:`AverageTrainedWeights`) instead of the last iterate.
    user_callbacks : sequence of skorch.callbacks.Callback or (str, Callback), default=()
        The ``callbacks`` parameter's, fresh for this fit
        (:func:`fresh_callbacks`); they run after the net's own.
    progress : sklearn_tsft.progress.FitProgress or None, default=None
        The fit's bar, advanced once per optimizer step.

    Other fields are the parameters of :class:`~sklearn_tsft.TokenSparseClassifier`.
    """

    n_train: int
    n_classes: int
    multilabel: bool
    valid_dataset: Any
    collate: Callable
    backbone_lr: float
    head_lr: float
    weight_decay: float
    warmup_ratio: float
    batch_size: int
    max_epochs: int
    early_stopping: Any
    device: str
    precision: str
    seed: int
    verbose: int
    chunk_pooling: str = "mean"
    accelerator: Any = None
    strategy_callbacks: Sequence = ()
    contrastive_classes: Any = None
    average_from: Any = None
    user_callbacks: Sequence = ()
    progress: Any = None


def build_net(module, config):
    """Configure the skorch net for one fit.

    Parameters
    ----------
    module : TextClassifierModule
        Module whose trainable parameters are already chosen by a strategy.
    config : NetConfig

    Returns
    -------
    net : TextClassifierNet
    """
    total_steps = training_steps(config.n_train, config.batch_size, config.max_epochs)
    callbacks = [
        (
            "lr_schedule",
            LRScheduler(
                policy=get_linear_schedule_with_warmup,
                num_warmup_steps=int(config.warmup_ratio * total_steps),
                num_training_steps=total_steps,
                step_every="batch",
            ),
        )
    ]
    if config.early_stopping is not None:
        callbacks.append(("early_stopping", EarlyStopping(
            monitor="valid_loss", patience=config.early_stopping, load_best=True)))
    callbacks.extend(config.strategy_callbacks)
    callbacks.append(("frozen_block_cache", FillCacheInOneSweep()))
    if config.average_from is not None:
        callbacks.append(("weight_average", AverageTrainedWeights(config.average_from)))
    on_gpu = torch.device(config.device).type == "cuda"
    if on_gpu:
        callbacks.append(("cuda_memory", PeakCudaMemory()))
    if config.progress is not None:
        callbacks.append(("progress", config.progress.callback()))
    callbacks.extend(config.user_callbacks)
    accelerated = {} if config.accelerator is None else {
        "accelerator": config.accelerator,
        # skorch's PrintLog honours verbose=0 only with the plain print sink;
        # accelerator.print prints once across processes.
        "callbacks__print_log__sink": config.accelerator.print if config.verbose > 1 else print,
        # The caller keeps the module it passed in. Unwrapping at the end of
        # training would run before EarlyStopping(load_best=True) restores
        # weights it saved from the DistributedDataParallel wrapper, whose
        # parameter names no longer match.
        "unwrap_after_train": False,
    }
    generator = torch.Generator().manual_seed(config.seed)
    if config.contrastive_classes is None:
        net_class = (TextClassifierNet if config.accelerator is None
                     else AcceleratedTextClassifierNet)
        order = {"iterator_train__shuffle": True, "iterator_train__generator": generator}
    else:
        net_class = ContrastiveNet
        order = {"iterator_train__sampler": ClassGroupedOrder(config.contrastive_classes,
                                                              generator)}
    return net_class(
        module,
        classes=list(range(config.n_classes)),
        criterion=torch.nn.BCEWithLogitsLoss if config.multilabel else torch.nn.CrossEntropyLoss,
        criterion__reduction="none",
        # skorch's validation accuracy assumes one class per text, scored by logits.
        **({"callbacks__valid_acc": None}
           if config.multilabel or config.contrastive_classes is not None else {}),
        optimizer=torch.optim.AdamW,
        optimizer__weight_decay=config.weight_decay,
        optimizer__param_groups=[("head.*", {"lr": config.head_lr})],
        lr=config.backbone_lr,
        batch_size=config.batch_size,
        max_epochs=config.max_epochs,
        iterator_train__collate_fn=config.collate,
        **order,
        # Pinned host memory lets batches copy to the GPU without staging.
        iterator_train__pin_memory=on_gpu,
        iterator_valid__pin_memory=on_gpu,
        iterator_valid__collate_fn=config.collate,
        train_split=(None if config.valid_dataset is None
                     else predefined_split(config.valid_dataset)),
        callbacks=callbacks,
        device=config.device if config.accelerator is None else None,
        precision=config.precision,
        chunk_pooling=config.chunk_pooling,
        verbose=int(config.verbose > 1),
        **accelerated,
    )
