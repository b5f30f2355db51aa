"""Strategies: which parameters of the classifier module a fit trains.

A strategy is chosen by name through ``TokenSparseClassifier(strategy=...)``.
Each one may adapt the tokenizer to the training data, marks what trains
before the loop, and turns the trained module back into a plain
:class:`~sklearn_tsft.backbone.TextClassifierModule` afterwards.

- :mod:`.token_sparse`: the paper's method, one module per stage.
- :mod:`.dense`: full, head, bitfit and layers.
- :mod:`.peft`: lora and prefix, through the peft library.
- :mod:`.frozen_blocks`: the cache of frozen lower blocks that token_sparse
  and layers train through.
"""

from ._base import Strategy
from .dense import BitFit, FullFinetuning, HeadOnly, TopLayers
from .peft import LoRA, PrefixTuning
from .token_sparse import TokenSparse

STRATEGIES = {
    "token_sparse": TokenSparse,
    "full": FullFinetuning,
    "head": HeadOnly,
    "bitfit": BitFit,
    "layers": TopLayers,
    "lora": LoRA,
    "prefix": PrefixTuning,
}


def available_strategies():
    """Names accepted by ``strategy=``, mapped to their classes."""
    return dict(STRATEGIES)


def check_strategy_name(name):
    """Raise a ValueError listing the strategies unless ``name`` is one."""
    if not (isinstance(name, str) and name in STRATEGIES):
        raise ValueError(
            f"Unknown strategy {name!r}. Choose one of: {', '.join(sorted(STRATEGIES))}."
        )


def make_strategy(name, params):
    """Instantiate the strategy ``name`` from the estimator's (checked) parameters.

    Parameters
    ----------
    name : str
    params : dict
        The estimator's ``get_params(deep=False)``.
    """
    check_strategy_name(name)
    cls = STRATEGIES[name]
    return cls(**{key: params[key] for key in cls.parameters})


__all__ = ["STRATEGIES", "Strategy", "available_strategies", "check_strategy_name", "make_strategy"]
