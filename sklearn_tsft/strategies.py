"""Strategies: which parameters of the classifier module a fit trains.

A strategy is chosen by name through ``TokenSparseClassifier(strategy=...)``.
Each one may adapt the tokenizer to the training data, marks what trains
before the loop, and turns the trained module back into a plain
:class:`~sklearn_tsft.backbone.TextClassifierModule` afterwards.
"""

from .tokenization import TextEncoder


class Strategy:
    """Base strategy: the pretrained tokenizer, nothing to undo after training.

    Subclasses list the estimator parameters they read in ``parameters``,
    and the backbone learning rate that ``lr="auto"`` stands for.
    """

    parameters = ()
    default_lr = 2e-4

    def build_text_encoder(self, tokenizer, encoder, texts, labels, max_length):
        """Return the :class:`~sklearn_tsft.tokenization.TextEncoder` of this fit."""
        return TextEncoder(tokenizer, max_length)

    def prepare(self, module, dataset, collate, device):
        """Set ``requires_grad`` (or wrap modules) and return the module to train.

        Parameters
        ----------
        module : TextClassifierModule
        dataset : TokenizedTexts
            The training texts, for strategies that look at data.
        collate : callable
            Builds a padded batch from dataset items.
        device : str
        """
        raise NotImplementedError

    def finalize(self, module):
        """Return the trained module as a plain ``TextClassifierModule``."""
        return module

    def fitted_attributes(self):
        """Extra fitted attributes for the estimator (name -> value)."""
        return {}


def freeze(module):
    for param in module.parameters():
        param.requires_grad_(False)


class FullFinetuning(Strategy):
    """End-to-end finetuning: every parameter trains."""

    def prepare(self, module, dataset, collate, device):
        for param in module.parameters():
            param.requires_grad_(True)
        return module


class HeadOnly(Strategy):
    """Frozen backbone; only the classification head trains."""

    def prepare(self, module, dataset, collate, device):
        freeze(module.encoder)
        return module


def available_strategies():
    """Names accepted by ``strategy=``, mapped to their classes."""
    from .token_sparse import TokenSparse  # it builds on this module

    return {"token_sparse": TokenSparse, "full": FullFinetuning, "head": HeadOnly}


def make_strategy(name, params):
    """Instantiate the strategy ``name`` from the estimator's parameters.

    Parameters
    ----------
    name : str
    params : dict
        The estimator's ``get_params(deep=False)``.
    """
    strategies = available_strategies()
    if name not in strategies:
        raise ValueError(
            f"Unknown strategy {name!r}. Choose one of: {', '.join(sorted(strategies))}."
        )
    cls = strategies[name]
    return cls(**{key: params[key] for key in cls.parameters})
