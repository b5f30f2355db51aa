"""What every strategy is: the hooks a fit calls, its parameters, and shared helpers."""

import numbers
from dataclasses import dataclass
from typing import Any

from .._data import TextTokenizer
from .._params import NONE, AnyOf, Interval, Options


@dataclass(frozen=True)
class Parameter:
    """An estimator parameter that a strategy reads, declared with the strategy.

    The estimator's ``_parameter_constraints`` take ``constraint`` from
    here; a test checks ``default`` against the estimator's signature and
    ``doc`` against its docstring and the README's table, in the manner of
    a peft config's fields.

    Parameters
    ----------
    name : str
    default : object
        The estimator's default.
    constraint : object
        A :mod:`sklearn_tsft._params` constraint (``Interval``, ``Options``, ...).
    doc : str
        What it means for this strategy, in one line.
    """

    name: str
    default: Any
    constraint: Any
    doc: str


# n_layers is read by token_sparse and layers, with a meaning of its own in each.
N_LAYERS_CONSTRAINT = AnyOf(Options("auto"), NONE, Interval(numbers.Integral, 1, None),
                            description="'auto', None (all blocks) or a positive int",
                            explain_range=False)


class Strategy:
    """Base strategy: the pretrained tokenizer, nothing to undo after training.

    A strategy only stores the estimator parameters it reads (declared in
    ``parameters`` as :class:`Parameter`; the estimator has checked them).
    Subclasses set the
    backbone learning rate that ``lr="auto"`` stands for (``default_lr``, or
    :meth:`learning_rate` where it depends on the backbone), and whether the
    trained module is a plain backbone plus head (``mergeable``).
    """

    parameters = ()
    default_lr = 2e-4
    # False when the fitted module keeps a wrapper around the encoder (a
    # peft prefix), which transformers' classification classes cannot hold.
    mergeable = True

    def __init__(self, **params):
        for parameter in self.parameters:
            setattr(self, parameter.name, params[parameter.name])

    def learning_rate(self, encoder):
        """The backbone learning rate that ``lr="auto"`` stands for on ``encoder``."""
        return self.default_lr

    def build_tokenizer(self, tokenizer, encoder, texts, labels, max_length):
        """Return the :class:`~sklearn_tsft._data.TextTokenizer` of this fit."""
        return TextTokenizer(tokenizer, max_length)

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

    def training_callbacks(self, n_steps):
        """skorch callbacks the strategy needs during training, as ``(name, callback)``.

        ``n_steps`` is the number of optimizer steps the fit will make.
        """
        return []

    def finalize(self, module):
        """Return the trained module as a plain ``TextClassifierModule``.

        ``module`` is the module given to :meth:`prepare` (not a training
        view that :meth:`prepare` may have returned), with its parameters trained.
        """
        return module

    def fitted_attributes(self):
        """Extra fitted attributes for the estimator (name -> value)."""
        return {}

    def inference_encoder(self, encoder):
        """Give a fresh encoder the structure of a fitted one, to load saved weights into."""
        return encoder

    @staticmethod
    def attributes_to_json(estimator):
        """The strategy's fitted attributes of ``estimator`` as JSON-ready values."""
        return {}

    @staticmethod
    def attributes_from_json(data):
        """Inverse of :meth:`attributes_to_json`."""
        return {}


def freeze(module):
    """Stop every parameter of ``module`` from training."""
    for param in module.parameters():
        param.requires_grad_(False)


def lowest_trained_block(n_layers, n_blocks):
    """Index of the lowest block that trains when the top ``n_layers`` do.

    ``None`` means every block; ``"auto"`` the top third (at least one).
    """
    if n_layers is None:
        return 0
    depth = max(1, round(n_blocks / 3)) if n_layers == "auto" else n_layers
    if depth > n_blocks:
        raise ValueError(f"n_layers={n_layers} but the backbone has only {n_blocks} blocks.")
    return n_blocks - depth
