"""Batched prediction: length-sorted batches, dynamic padding, no autograd."""

import contextlib
import sys
import threading
import weakref

import numpy as np
import torch
from tqdm.auto import tqdm

from ._data import pad_batch
from ._device import autocast


def predict_logits(module, input_ids, *, pad_token_id, batch_size, device, precision,
                   show_progress=False):
    """Logits of a module for already tokenized texts, in input order.

    Texts are sorted by length so each batch pads little, and the rows are
    put back in the caller's order at the end.

    Parameters
    ----------
    module : torch.nn.Module
        Called as ``module(input_ids=..., attention_mask=...)``. A module
        in eval mode on ``device`` is used as it is (any number of threads
        at once); otherwise it is switched to eval mode and moved to
        ``device`` for the call and back after it, one thread at a time.
    input_ids : list of list of int
        Unpadded token ids of each text.
    pad_token_id : int
    batch_size : int
    device : str
    precision : {"fp32", "bf16"}
    show_progress : bool, default=False
        Show a progress bar over the batches (on stderr).

    Returns
    -------
    logits : ndarray of shape (n_texts, n_outputs), float32
    """
    order = np.argsort([len(ids) for ids in input_ids], kind="stable")
    # Moving the module or switching its mode walks every submodule, about
    # 7 ms on MiniLM: a quarter of a one-text prediction on the CPU. And
    # either changes the module for every thread that predicts with it. A
    # fitted module is on its home device in eval mode, so neither happens;
    # where one must (a GPU, or a submodule a user put in training mode),
    # the threads predicting with that module take turns.
    home = _parameter_device(module)
    moved = home is not None and home != torch.device(device)
    was_training = module.training
    switched = any(submodule.training for submodule in module.modules())
    with _changing_lock(module) if moved or switched else contextlib.nullcontext():
        if moved:
            module.to(device)
        if switched:
            module.eval()
        try:
            chunks = _batched_logits(module, input_ids, order, pad_token_id, batch_size,
                                     device, precision, show_progress)
        finally:
            if switched:
                module.train(was_training)
            if moved:
                module.to(home)
    logits = torch.cat(chunks).numpy()
    restored = np.empty_like(logits)
    restored[order] = logits
    return restored


def _batched_logits(module, input_ids, order, pad_token_id, batch_size, device, precision,
                    show_progress):
    chunks = []
    with torch.inference_mode(), autocast(device, precision):
        starts = range(0, len(order), batch_size)
        for start in tqdm(starts, disable=not show_progress, file=sys.stderr, desc="predict"):
            batch = [input_ids[i] for i in order[start : start + batch_size]]
            padded, mask = pad_batch(batch, pad_token_id)
            logits = module(input_ids=padded.to(device), attention_mask=mask.to(device))
            chunks.append(logits.float().cpu())
    return chunks


# One lock per module; a wrapper that predicts with a module (its
# ``module`` attribute, as LogitsAndEmbedding has) shares that module's lock.
_CHANGING_LOCKS = weakref.WeakKeyDictionary()
_CHANGING_LOCKS_GUARD = threading.Lock()


def _changing_lock(module):
    owner = getattr(module, "module", module)
    with _CHANGING_LOCKS_GUARD:
        return _CHANGING_LOCKS.setdefault(owner, threading.Lock())


def _parameter_device(module):
    # An onnxruntime-backed module has no parameters and runs where it is.
    parameter = next(module.parameters(), None)
    return None if parameter is None else parameter.device
