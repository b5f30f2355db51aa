"""Export to a Hugging Face ``AutoModelForSequenceClassification`` directory.

The estimator classifies the *mean* of the encoder's token states (or, for
decoders, the last token's), which no standard ``*ForSequenceClassification``
class of a BERT-like encoder does (they read the first token). The exported
directory therefore uses a small architecture of ours,
``model_type="tsft_text_classifier"`` (the backbone's own config nested
inside, the pooling and the linear head), defined in the self-contained
:mod:`sklearn_tsft.modeling_tsft`, which the export copies into the
directory and names in the config's ``auto_map``:

* where only transformers is installed, ``trust_remote_code=True`` loads
  it (``AutoModelForSequenceClassification.from_pretrained`` and
  ``pipeline("text-classification", ...)``);
* in a process that has imported ``sklearn_tsft``, which registers the
  architecture with transformers' Auto classes, it also loads without
  ``trust_remote_code``.
"""

import json

from transformers import AutoConfig, AutoModelForSequenceClassification

from ._atomic import replacing_directory, unexpected_beside_manifest
from .modeling_tsft import TsftForSequenceClassification, TsftTextClassifierConfig

# The files an export wrote, with their sizes: a later export replaces the
# directory only while it holds exactly those.
EXPORT_MANIFEST = "tsft_export.json"


def register():
    """Make the Auto classes (and so ``pipeline``) know the exported architecture."""
    AutoConfig.register(TsftTextClassifierConfig.model_type, TsftTextClassifierConfig,
                        exist_ok=True)
    AutoModelForSequenceClassification.register(
        TsftTextClassifierConfig, TsftForSequenceClassification, exist_ok=True)
    # save_pretrained then copies modeling_tsft.py and writes the auto_map.
    TsftTextClassifierConfig.register_for_auto_class()
    TsftForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")


def export_pretrained(module, tokenizer, classes, path, multilabel=False, card=None):
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
    card : str or None, default=None
        The model card, written as ``README.md``.
    """
    encoder = module.encoder
    labels = {i: str(label) for i, label in enumerate(classes)}
    config = TsftTextClassifierConfig(
        encoder=_portable_encoder_config(encoder.config),
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
        if card is not None:
            (staging / "README.md").write_text(card)
        sizes = {file.relative_to(staging).as_posix(): {"size": file.stat().st_size}
                 for file in sorted(staging.rglob("*")) if file.is_file()}
        (staging / EXPORT_MANIFEST).write_text(json.dumps({"files": sizes}, indent=1))


def _portable_encoder_config(config):
    """The backbone's config without its file path and its unused label names."""
    settings = config.to_dict()
    for key in ("_name_or_path", "id2label", "label2id"):
        settings.pop(key, None)
    return settings


def _not_exported(path):
    """What ``path`` holds besides the files a previous export listed."""
    return unexpected_beside_manifest(path, EXPORT_MANIFEST)
