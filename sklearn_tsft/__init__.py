"""Token-driven sparse finetuning of small transformers for scikit-learn."""

from .classifier import TokenSparseClassifier

__version__ = "0.1.0"

__all__ = ["TokenSparseClassifier", "__version__"]
