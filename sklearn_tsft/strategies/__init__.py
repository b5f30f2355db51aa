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
    return cls(**{parameter.name: params[parameter.name] for parameter in cls.parameters})


def strategy_parameters():
    """Every strategy's parameters: ``{name: {strategy: Parameter}}``, in declaration order.

    A parameter that several strategies read (``n_layers``) has one default
    and one constraint; its ``doc`` may differ per strategy.
    """
    found = {}
    for strategy, cls in STRATEGIES.items():
        for parameter in cls.parameters:
            found.setdefault(parameter.name, {})[strategy] = parameter
    for name, by_strategy in found.items():
        first = next(iter(by_strategy.values()))
        if any((p.default, p.constraint) != (first.default, first.constraint)
               for p in by_strategy.values()):
            raise TypeError(f"strategies declare {name} with different defaults or constraints")
    return found


def parameter_table():
    """The strategies' parameters as a markdown table (docs/user_guide.md holds it).

    Examples
    --------
    >>> print(parameter_table().splitlines()[2])
    | `token_sparse` | `sparsity` | 0.05 | fraction of the backbone's weights that may change |
    """
    rows = ["| strategy | parameter | default | what it does |", "|---|---|---|---|"]
    for strategy, cls in STRATEGIES.items():
        for parameter in cls.parameters:
            default = (f'`"{parameter.default}"`' if isinstance(parameter.default, str)
                       else str(parameter.default))
            rows.append(f"| `{strategy}` | `{parameter.name}` | {default} | {parameter.doc} |")
    return "\n".join(rows)


def strategy_constraints():
    """``{name: constraint}`` of the strategies' parameters, for the estimator's checks."""
    return {name: next(iter(by_strategy.values())).constraint
            for name, by_strategy in strategy_parameters().items()}


__all__ = ["STRATEGIES", "Strategy", "available_strategies", "check_strategy_name",
           "make_strategy", "parameter_table", "strategy_constraints", "strategy_parameters"]
