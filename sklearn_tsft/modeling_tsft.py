"""The exported classifier's architecture, self-contained: torch and transformers only.

:func:`sklearn_tsft.hf_export.export_pretrained` copies this file into the
exported directory as ``modeling_tsft.py`` and names its classes in the
config's ``auto_map``, so that the directory loads where ``sklearn_tsft``
is not installed, with ``trust_remote_code=True`` (the transformers
convention for a custom head)::

    AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=True)
    pipeline("text-classification", model=path, trust_remote_code=True)

It must therefore import nothing from ``sklearn_tsft``; the estimator's
module pools with the same functions (``sklearn_tsft.backbone`` imports
them from here), so the export and the estimator cannot drift apart.
"""

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput


def mean_pool(hidden_states, attention_mask):
    """Average the token states of each text, ignoring padding.

    Parameters
    ----------
    hidden_states : Tensor of shape (n_texts, n_tokens, hidden_size)
    attention_mask : Tensor of shape (n_texts, n_tokens)
        1 for real tokens, 0 for padding.

    Returns
    -------
    Tensor of shape (n_texts, hidden_size)

    Examples
    --------
    >>> import torch
    >>> states = torch.tensor([[[1.0], [3.0], [100.0]]])
    >>> mean_pool(states, torch.tensor([[1, 1, 0]]))
    tensor([[2.]])
    """
    mask = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
    return (hidden_states * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def last_token_pool(hidden_states, attention_mask):
    """The state of each text's last real token (texts padded on the right).

    Examples
    --------
    >>> import torch
    >>> states = torch.tensor([[[1.0], [3.0], [100.0]]])
    >>> last_token_pool(states, torch.tensor([[1, 1, 0]]))
    tensor([[3.]])
    """
    last = attention_mask.sum(dim=1).clamp(min=1) - 1
    return hidden_states[torch.arange(hidden_states.shape[0], device=last.device), last]


POOLINGS = {"mean": mean_pool, "last": last_token_pool}


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
