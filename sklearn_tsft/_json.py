"""JSON that holds numpy scalars (skorch's history and benchmark rows have them)."""

import numpy as np


def json_default(value):
    """``default=`` for :func:`json.dumps`: numpy scalars as Python numbers."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
