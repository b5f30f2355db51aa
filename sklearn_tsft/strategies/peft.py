"""Strategies through the ``peft`` library: LoRA and prefix tuning."""

import warnings

from .._optional import import_optional
from ._base import Strategy


class LoRA(Strategy):
    """LoRA adapters through the ``peft`` library, merged into the dense weights after fit.

    ``lora_target_modules=None`` takes peft's default modules for the
    backbone's architecture (``query`` and ``value`` for BERT).
    """

    # peft's examples train LoRA adapters at about 1e-3.
    default_lr = 1e-3
    parameters = ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules")

    def prepare(self, module, dataset, collate, device):
        peft = import_optional("peft", "peft", "strategy='lora'")
        config = peft.LoraConfig(r=self.lora_r, lora_alpha=self.lora_alpha,
                                 lora_dropout=self.lora_dropout,
                                 target_modules=self.lora_target_modules)
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
    parameters = ("num_virtual_tokens",)

    def prepare(self, module, dataset, collate, device):
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


def wrap_with_peft(peft, encoder, config):
    """``peft.get_peft_model`` without transformers' deprecation noise about peft's calls."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return peft.get_peft_model(encoder, config)
