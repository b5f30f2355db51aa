"""Strategies through the ``peft`` library: LoRA and prefix tuning."""

import numbers
import warnings

from .._optional import import_optional
from .._params import Checked, Interval
from ..backbone import block_names, block_of, linear_layers
from ._base import Parameter, Strategy


def _check_module_names(value):
    names = [value] if isinstance(value, str) else value
    if value is not None and not (isinstance(names, (list, tuple)) and names
                                  and all(isinstance(name, str) for name in names)):
        raise ValueError(
            f"lora_target_modules must be None (peft's default), a module name or a list "
            f"of module names, got {value!r}."
        )


class LoRA(Strategy):
    """LoRA adapters through the ``peft`` library, merged into the dense weights after fit.

    ``lora_target_modules=None`` takes peft's default modules for the
    backbone's architecture (``query`` and ``value`` for BERT); for an
    architecture peft has no default for (DistilBERT, MPNet, ModernBERT),
    every linear layer of the transformer blocks.
    """

    # peft's examples train LoRA adapters at about 1e-3.
    default_lr = 1e-3
    parameters = (
        Parameter("lora_r", 8, Interval(numbers.Integral, 1, None), "rank of the adapters"),
        Parameter("lora_alpha", 16, Interval(numbers.Real, 0, None, closed="neither"),
                  "scaling of the adapters"),
        Parameter("lora_dropout", 0.1, Interval(numbers.Real, 0, 1, closed="left"),
                  "dropout on the adapters' input"),
        Parameter("lora_target_modules", None, Checked(_check_module_names),
                  "names of the linear layers that get adapters (None: peft's default)"),
    )

    def prepare(self, module, dataset, collate, device):
        peft = import_optional("peft", "peft", "strategy='lora'")
        targets = self.lora_target_modules
        if targets is None and not peft_has_lora_default(module.encoder):
            targets = block_linear_names(module.encoder)
        config = peft.LoraConfig(r=self.lora_r, lora_alpha=self.lora_alpha,
                                 lora_dropout=self.lora_dropout, target_modules=targets)
        module.encoder = wrap_with_peft(peft, module.encoder, config)
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
    mergeable = False
    parameters = (
        Parameter("num_virtual_tokens", 20, Interval(numbers.Integral, 1, None),
                  "trained key/value vectors prepended to every block's attention"),
    )

    def prepare(self, module, dataset, collate, device):
        model_type = module.encoder.config.model_type
        if model_type in PREFIX_UNSUPPORTED:
            raise ValueError(
                f"strategy='prefix' does not work on {model_type} backbones (peft's prefix "
                "does not fit their attention); use strategy='lora' or 'token_sparse'.")
        module.encoder = self.inference_encoder(module.encoder)
        return module

    def inference_encoder(self, encoder):
        """The encoder wrapped by peft's prefix tuning (fresh prefix, frozen encoder)."""
        peft = import_optional("peft", "peft", "strategy='prefix'")
        # peft hands the prefix to the encoder as past_key_values, which
        # transformers 5 flags as deprecated on every forward; the warning is
        # about peft's internals and not actionable by our users.
        warnings.filterwarnings(
            "ignore", message="`past_key_values` is deprecated", category=FutureWarning
        )
        # FEATURE_EXTRACTION is peft's task type for a bare encoder; without a
        # task type peft's base wrapper cannot build prefixes.
        config = peft.PrefixTuningConfig(
            task_type="FEATURE_EXTRACTION", num_virtual_tokens=self.num_virtual_tokens
        )
        return wrap_with_peft(peft, encoder, config)


# Architectures whose attention peft's prefix tuning does not fit (measured
# with tiny models: a shape mismatch, or peft asking for token_dim).
PREFIX_UNSUPPORTED = frozenset({"deberta-v2", "distilbert", "mpnet", "modernbert"})


def peft_has_lora_default(encoder):
    """Whether peft knows default LoRA target modules for ``encoder``'s architecture."""
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING

    return TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING.get(
        encoder.config.model_type) is not None


def block_linear_names(encoder):
    """Short names of the linear layers inside the transformer blocks (LoRA targets)."""
    blocks = block_names(encoder)
    return sorted({name.rsplit(".", 1)[-1] for name in linear_layers(encoder)
                   if block_of(name, blocks) is not None})


def wrap_with_peft(peft, encoder, config):
    """``peft.get_peft_model`` without transformers' deprecation noise about peft's calls."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return peft.get_peft_model(encoder, config)
