"""Every fitted attribute of the estimator, and how a saved model stores it.

``fit`` sets these attributes (and a strategy's own, which the strategy
stores: ``Strategy.attributes_to_json``); :mod:`sklearn_tsft.persistence`
writes and reads them from this list only. A test checks that a fit sets
exactly these (plus the strategy's), and that the estimator's docstring
describes each.

**A new fitted attribute** kept as JSON: set it in ``fit``, add one
:class:`InJson` entry to :data:`JSON_ATTRIBUTES` (with the value that
models saved before it existed load with), and describe it in the
``Attributes`` section of :class:`~sklearn_tsft.TokenSparseClassifier`.
One that needs a file of its own goes in :data:`FILE_ATTRIBUTES` and in
``persistence.save`` and ``load``.
"""

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from skorch.history import History

from .contrastive import OBJECTIVES
from .modeling_tsft import POOLINGS
from .out_of_scope import OOS_SCORES

REQUIRED = object()


def _same(value):
    return value


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite(value):
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


@dataclass(frozen=True)
class InJson:
    """A fitted attribute saved as one entry of ``tsft.json``.

    Parameters
    ----------
    attribute : str
        The estimator's attribute (``temperature_``).
    key : str
        Its entry in ``tsft.json`` (``temperature``).
    check : callable
        True for a valid JSON value; load refuses any other.
    expected : str
        What a valid value is, for the error message.
    default : object, default=REQUIRED
        The value of models saved before the entry existed; REQUIRED when
        every saved model has it.
    encode, decode : callable
        From the attribute to JSON and back.
    """

    attribute: str
    key: str
    check: Callable[[Any], bool]
    expected: str
    default: Any = REQUIRED
    encode: Callable[[Any], Any] = _same
    decode: Callable[[Any], Any] = _same


def _floats_or_none(values):
    return None if values is None else np.asarray(values, dtype=np.float64)


def _list_or_none(array):
    return None if array is None else array.tolist()


JSON_ATTRIBUTES = (
    InJson("backbone_name_", "backbone_name", lambda v: isinstance(v, str), "a string"),
    # Models saved before the pooling choice all mean-pooled.
    InJson("pooling_", "pooling", lambda v: v in POOLINGS, f"one of {', '.join(POOLINGS)}",
           default="mean"),
    # Models saved before the objective choice all trained cross-entropy.
    InJson("objective_", "objective", lambda v: v in OBJECTIVES,
           f"one of {', '.join(OBJECTIVES)}", default="cross_entropy"),
    InJson("multilabel_", "multilabel", lambda v: isinstance(v, bool), "true or false"),
    InJson("n_trainable_params_", "n_trainable_params", lambda v: is_int(v) and v >= 0,
           "a count"),
    InJson("trainable_fraction_", "trainable_fraction", lambda v: is_finite(v) and v >= 0,
           "a fraction"),
    InJson("history_", "history", lambda v: isinstance(v, list), "a list of epochs",
           encode=lambda history: history.to_list(), decode=History),
    InJson("temperature_", "temperature", lambda v: is_finite(v) and v > 0,
           "a positive finite number", decode=float),
    InJson("unknown_threshold_", "unknown_threshold", lambda v: v is None or is_finite(v),
           "null or a finite number", default=None),
    InJson("unknown_score_", "unknown_score", lambda v: v is None or v in OOS_SCORES,
           f"null or one of {', '.join(OOS_SCORES)}", default=None),
    InJson("label_thresholds_", "label_thresholds", lambda v: v is None or (
        isinstance(v, list) and all(is_finite(t) and 0 < t < 1 for t in v)),
        "null or a list of numbers in (0, 1)", default=None,
        encode=_list_or_none, decode=_floats_or_none),
)

# Attributes that persistence stores in files of their own, or derives.
FILE_ATTRIBUTES = {
    "classes_": "tsft.json 'classes': the values and their dtype",
    "n_classes_": "the number of classes_",
    "tokenizer_": "tokenizer/, and tsft.json 'max_length'",
    "module_": "model.safetensors and backbone/config.json (or model.onnx)",
    "embedding_means_": "class_gaussians.safetensors, when fit computed it",
    "embedding_precision_": "class_gaussians.safetensors, when fit computed it",
}

FITTED_ATTRIBUTES = tuple(entry.attribute for entry in JSON_ATTRIBUTES) + tuple(FILE_ATTRIBUTES)


def json_schema():
    """``{key: (required, check, expected)}`` of the JSON attributes, for load's checks."""
    return {entry.key: (entry.default is REQUIRED, entry.check, entry.expected)
            for entry in JSON_ATTRIBUTES}


def json_attributes(estimator):
    """The JSON attributes of a fitted estimator, by ``tsft.json`` key."""
    return {entry.key: entry.encode(getattr(estimator, entry.attribute))
            for entry in JSON_ATTRIBUTES}


def attributes_from_metadata(metadata):
    """The JSON attributes, by attribute name, from a checked ``tsft.json``."""
    return {entry.attribute: entry.decode(
                metadata[entry.key] if entry.key in metadata or entry.default is REQUIRED
                else entry.default)
            for entry in JSON_ATTRIBUTES}
