"""Token-driven sparse finetuning of small transformers for scikit-learn."""

# Defined before the imports below, which read it (persistence metadata).
__version__ = "0.1.0"

from .classifier import TokenSparseClassifier  # noqa: E402
from .hf_export import register as _register_export_architecture  # noqa: E402

_register_export_architecture()

__all__ = ["TokenSparseClassifier", "__version__"]
