"""Token-driven sparse finetuning of small transformers for scikit-learn."""

from ._version import __version__
from .classifier import TokenSparseClassifier
from .exceptions import ModelFormatError
from .hf_export import register as _register_export_architecture

_register_export_architecture()

__all__ = ["ModelFormatError", "TokenSparseClassifier", "__version__"]
