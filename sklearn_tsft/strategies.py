"""Strategies: which parameters of the classifier module a fit trains.

A strategy is chosen by name through ``TokenSparseClassifier(strategy=...)``.
Each one may adapt the tokenizer to the training data, marks what trains
before the loop, and turns the trained module back into a plain
:class:`~sklearn_tsft.backbone.TextClassifierModule` afterwards.
"""

import numbers
import warnings

from sklearn.utils import check_scalar

from .frozen_prefix import with_prefix_cache
from .selection import block_names
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


class BitFit(Strategy):
    """Only the backbone's biases (and the head) train (Ben Zaken et al., 2022)."""

    # Biases are few and start at pretrained values; like the token_sparse
    # deltas they need a larger step than end-to-end finetuning.
    default_lr = 5e-3

    def prepare(self, module, dataset, collate, device):
        freeze(module.encoder)
        for name, param in module.encoder.named_parameters():
            if name.endswith("bias"):
                param.requires_grad_(True)
        return module


def lowest_trained_block(n_layers, n_blocks):
    """Index of the lowest block that trains when the top ``n_layers`` do.

    ``None`` means every block; ``"auto"`` the top third (at least one).
    """
    if n_layers is None:
        return 0
    if not (n_layers == "auto" or isinstance(n_layers, numbers.Integral) and n_layers >= 1):
        raise ValueError(
            f"n_layers must be 'auto', None (all blocks) or a positive int, got {n_layers!r}."
        )
    depth = max(1, round(n_blocks / 3)) if n_layers == "auto" else n_layers
    if depth > n_blocks:
        raise ValueError(f"n_layers={n_layers} but the backbone has only {n_blocks} blocks.")
    return n_blocks - depth


class TopLayers(Strategy):
    """Layer selection: the top ``n_layers`` transformer blocks (and the head) train.

    The frozen blocks below are run once per text and reused across epochs
    where the architecture allows (:mod:`.frozen_prefix`).
    """

    parameters = ("n_layers",)

    def __init__(self, n_layers):
        self.n_layers = n_layers

    def prepare(self, module, dataset, collate, device):
        freeze(module.encoder)
        blocks = block_names(module.encoder)
        lowest = lowest_trained_block(self.n_layers, len(blocks))
        for name in blocks[lowest:]:
            module.encoder.get_submodule(name).requires_grad_(True)
        return with_prefix_cache(module, lowest)


def import_peft(strategy):
    """Import ``peft`` or say which extra installs it."""
    try:
        import peft
    except ImportError as exc:
        raise ImportError(
            f"strategy={strategy!r} needs the peft library: pip install 'sklearn-tsft[peft]'."
        ) from exc
    return peft


class LoRA(Strategy):
    """LoRA adapters through the ``peft`` library, merged into the dense weights after fit.

    ``lora_target_modules=None`` takes peft's default modules for the
    backbone's architecture (``query`` and ``value`` for BERT).
    """

    # peft's examples train LoRA adapters at about 1e-3.
    default_lr = 1e-3
    parameters = ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules")

    def __init__(self, lora_r, lora_alpha, lora_dropout, lora_target_modules):
        check_scalar(lora_r, "lora_r", numbers.Integral, min_val=1)
        check_scalar(lora_alpha, "lora_alpha", numbers.Real, min_val=0, include_boundaries="neither")
        check_scalar(lora_dropout, "lora_dropout", numbers.Real, min_val=0, max_val=1,
                     include_boundaries="left")
        self.config = dict(r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
                           target_modules=lora_target_modules)

    def prepare(self, module, dataset, collate, device):
        peft = import_peft("lora")
        module.encoder = wrap_with_peft(module.encoder, peft.LoraConfig(**self.config))
        return module

    def finalize(self, module):
        module.encoder = module.encoder.merge_and_unload()
        return module


class PrefixTuning(Strategy):
    """Prefix tuning (Li and Liang, 2021) through the ``peft`` library.

    ``num_virtual_tokens`` trained key/value vectors are prepended to the
    attention of every block; the backbone stays frozen. Unlike LoRA the
    prefix cannot be merged into dense weights, so the fitted module keeps
    peft's wrapper (and predicts a little slower than the bare backbone).
    """

    # peft's prefix-tuning examples train at about 1e-2.
    default_lr = 1e-2
    parameters = ("num_virtual_tokens",)

    def __init__(self, num_virtual_tokens):
        check_scalar(num_virtual_tokens, "num_virtual_tokens", numbers.Integral, min_val=1)
        self.num_virtual_tokens = num_virtual_tokens

    def prepare(self, module, dataset, collate, device):
        module.encoder = wrap_in_prefix(module.encoder, self.num_virtual_tokens)
        return module

    def inference_encoder(self, encoder):
        return wrap_in_prefix(encoder, self.num_virtual_tokens)


def wrap_in_prefix(encoder, num_virtual_tokens):
    """The encoder wrapped by peft's prefix tuning (fresh prefix, frozen encoder)."""
    peft = import_peft("prefix")
    # peft hands the prefix to the encoder as past_key_values, which
    # transformers 5 flags as deprecated on every forward; the warning is
    # about peft's internals and not actionable by our users.
    warnings.filterwarnings(
        "ignore", message="`past_key_values` is deprecated", category=FutureWarning
    )
    # FEATURE_EXTRACTION is peft's task type for a bare encoder; without a
    # task type peft's base wrapper cannot build prefixes.
    config = peft.PrefixTuningConfig(
        task_type="FEATURE_EXTRACTION", num_virtual_tokens=num_virtual_tokens
    )
    return wrap_with_peft(encoder, config)


def wrap_with_peft(encoder, config):
    """``peft.get_peft_model`` without transformers' deprecation noise about peft's calls."""
    import peft

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return peft.get_peft_model(encoder, config)


def available_strategies():
    """Names accepted by ``strategy=``, mapped to their classes."""
    from .token_sparse import TokenSparse  # it builds on this module

    return {
        "token_sparse": TokenSparse,
        "full": FullFinetuning,
        "head": HeadOnly,
        "bitfit": BitFit,
        "layers": TopLayers,
        "lora": LoRA,
        "prefix": PrefixTuning,
    }


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
    # Strategy constructors validate their own parameters.
    return cls(**{key: params[key] for key in cls.parameters})
