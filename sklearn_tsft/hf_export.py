"""Export to a Hugging Face ``AutoModelForSequenceClassification`` directory.

The estimator classifies the *mean* of the encoder's token states (or, for
decoders, the last token's), which no standard ``*ForSequenceClassification``
class of a BERT-like encoder does (they read the first token). The exported
directory therefore uses a small architecture of ours,
``model_type="tsft_text_classifier"`` (the backbone's own config nested
inside, the pooling and the linear head), which this
module registers with transformers' Auto classes when ``sklearn_tsft`` is
imported. In such a process ``AutoModelForSequenceClassification`` and
``transformers.pipeline("text-classification", model=path)`` load it like
any other model, with no ``trust_remote_code``.
"""

import json

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers.modeling_outputs import SequenceClassifierOutput

from ._atomic import replacing_directory, unexpected_beside_manifest
from .backbone import POOLINGS

# The files an export wrote, with their sizes: a later export replaces the
# directory only while it holds exactly those.
EXPORT_MANIFEST = "tsft_export.json"


class TsftTextClassifierConfig(PretrainedConfig):
    """Config of an exported classifier: the backbone's config and the head's size.

    Parameters
    ----------
    encoder : dict, optional
        The backbone's config as ``PretrainedConfig.to_dict()`` gives it.
    pooling : {"mean", "last"}, default="mean"
        How the token states are pooled before the head.
    **kwargs
        The usual ``PretrainedConfig`` arguments (``id2label``, ...).
    """

    model_type = "tsft_text_classifier"

    def __init__(self, encoder=None, pooling="mean", **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder or {}
        self.pooling = pooling

    def encoder_config(self):
        """The nested backbone config as a ``PretrainedConfig``."""
        settings = dict(self.encoder)
        return AutoConfig.for_model(settings.pop("model_type"), **settings)


class TsftForSequenceClassification(PreTrainedModel):
    """Backbone, pooling over non-padding tokens, and a linear head."""

    config_class = TsftTextClassifierConfig
    base_model_prefix = "encoder"

    def __init__(self, config):
        super().__init__(config)
        self.encoder = AutoModel.from_config(config.encoder_config())
        self.head = nn.Linear(self.encoder.config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        logits = self.head(POOLINGS[self.config.pooling](hidden.last_hidden_state, attention_mask))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)


def register():
    """Make the Auto classes (and so ``pipeline``) know the exported architecture."""
    AutoConfig.register(TsftTextClassifierConfig.model_type, TsftTextClassifierConfig,
                        exist_ok=True)
    AutoModelForSequenceClassification.register(
        TsftTextClassifierConfig, TsftForSequenceClassification, exist_ok=True)


def export_pretrained(module, tokenizer, classes, path, multilabel=False):
    """Write a fitted module and its tokenizer as a transformers model directory.

    Parameters
    ----------
    module : TextClassifierModule
        A fitted module whose encoder is a plain transformers model.
    tokenizer : transformers.PreTrainedTokenizerBase
    classes : ndarray
        Labels in logit order; written as ``id2label`` (as strings).
    path : str or os.PathLike
        A new or empty directory, or one that a previous export wrote and
        that holds nothing else (its ``tsft_export.json`` lists the
        files), which is replaced as a whole and atomically.
    multilabel : bool, default=False
        Sets ``problem_type="multi_label_classification"``, so that
        ``pipeline`` applies a sigmoid per label instead of a softmax.
    """
    encoder = module.encoder
    labels = {i: str(label) for i, label in enumerate(classes)}
    config = TsftTextClassifierConfig(
        encoder=encoder.config.to_dict(),
        pooling=module.pooling,
        id2label=labels,
        label2id={label: i for i, label in labels.items()},
        problem_type="multi_label_classification" if multilabel else "single_label_classification",
    )
    exported = TsftForSequenceClassification(config)
    exported.encoder.load_state_dict(encoder.state_dict())
    exported.head.load_state_dict(module.head.state_dict())
    with replacing_directory(path, unexpected=_not_exported) as staging:
        exported.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        sizes = {file.relative_to(staging).as_posix(): {"size": file.stat().st_size}
                 for file in sorted(staging.rglob("*")) if file.is_file()}
        (staging / EXPORT_MANIFEST).write_text(json.dumps({"files": sizes}, indent=1))


def _not_exported(path):
    """What ``path`` holds besides the files a previous export listed."""
    return unexpected_beside_manifest(path, EXPORT_MANIFEST)
