"""Saving a fitted estimator to a directory and loading it back, without pickle.

A saved directory holds::

    tsft.json           format version, package version, the estimator's
                        parameters, classes (with their type), fitted
                        attributes
    model.safetensors   the fitted module's weights (backbone and head)
    backbone/           the backbone's transformers config
    tokenizer/          the tokenizer files (task words in their slots)
    out_of_scope.safetensors
                        class means and precision of the embeddings, only
                        when fitted with ``oos_score="mahalanobis"``
    model.onnx          only when written by ``export_onnx``

``tsft.json`` lists every other file with its size and SHA-256, and
``load`` checks them: a missing, truncated or changed file (or an ONNX
file that is not the saved model's) gives ``ModelFormatError`` naming it.
A save writes a new directory beside ``path`` and renames it into place
(:mod:`sklearn_tsft._atomic`): ``path`` holds the complete old model or the
complete new one, never parts of both.

Loading reads JSON and safetensors only: nothing is unpickled, and no code
from the directory runs unless the caller passes ``trust_remote_code=True``.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import safetensors.numpy
import safetensors.torch
from safetensors import SafetensorError
from skorch.history import History
from transformers import AutoConfig, AutoModel, AutoTokenizer

from ._atomic import check_replaceable, replacing_directory
from ._data import TextTokenizer
from ._json import json_default
from ._version import __version__
from .backbone import POOLINGS, TextClassifierModule, quiet_transformers
from .exceptions import ModelFormatError
from .onnx_export import ONNX_FILE, OnnxModule, export_onnx
from .strategies import available_strategies, make_strategy

# 2: tsft.json lists the directory's files with sizes and checksums.
FORMAT_VERSION = 2
METADATA = "tsft.json"
WEIGHTS = "model.safetensors"
# Only for models fitted with oos_score="mahalanobis".
CLASS_GAUSSIANS = "out_of_scope.safetensors"
FILES = (METADATA, WEIGHTS, "backbone/config.json", "tokenizer")


def encode_value(value, name):
    """A parameter or label as JSON, or an error naming what cannot be saved."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [encode_value(item, name) for item in value]
    if isinstance(value, dict):
        # Keys may be labels of any JSON type (class_weight), so store pairs.
        return {"__pairs__": [[encode_value(k, name), encode_value(v, name)]
                              for k, v in value.items()]}
    raise ValueError(
        f"{name}={value!r} cannot be saved as JSON; set it to an int, float, str, "
        "list, dict or None before saving (pickle keeps any value, for trusted use)."
    )


def decode_value(value):
    if isinstance(value, dict):
        return {decode_value(k): decode_value(v) for k, v in value["__pairs__"]}
    if isinstance(value, list):
        return [decode_value(item) for item in value]
    return value


def _encode_classes(classes):
    dtype = "object" if classes.dtype == object else classes.dtype.str
    return {"dtype": dtype, "values": [encode_value(c, "classes_") for c in classes]}


def _decode_classes(data):
    return np.array(data["values"], dtype=object if data["dtype"] == "object" else data["dtype"])


def base_encoder(module):
    """The transformers model inside the fitted module (under peft's wrapper, if any)."""
    encoder = module.encoder
    return encoder.get_base_model() if hasattr(encoder, "get_base_model") else encoder


def save(estimator, path, onnx=False, quantize=None):
    """Write a fitted estimator to the directory ``path``, replacing it atomically.

    Parameters
    ----------
    estimator : TokenSparseClassifier
        A fitted estimator.
    path : str or os.PathLike
        A new or empty directory, or one that a previous save wrote.
    onnx : bool, default=False
        Also write ``model.onnx`` (``export_onnx``).
    quantize : {None, "int8"}, default=None
        ONNX weight quantization.
    """
    if isinstance(estimator.module_, OnnxModule):
        raise ValueError(
            "This estimator predicts through ONNX (loaded with backend='onnx'); its "
            "directory already holds everything: copy it, or load it with backend='torch' "
            "to save again."
        )
    params = {name: encode_value(value, name)
              for name, value in estimator.get_params(deep=False).items()}
    strategy = available_strategies()[estimator.strategy]
    tokenizer = estimator.tokenizer_
    metadata = {
        "format": "sklearn-tsft",
        "format_version": FORMAT_VERSION,
        "sklearn_tsft_version": __version__,
        "params": params,
        "classes": _encode_classes(estimator.classes_),
        "backbone_name": estimator.backbone_name_,
        "pooling": estimator.pooling_,
        "n_trainable_params": estimator.n_trainable_params_,
        "trainable_fraction": estimator.trainable_fraction_,
        "history": estimator.history_.to_list(),
        "temperature": estimator.temperature_,
        "unknown_threshold": estimator.unknown_threshold_,
        "unknown_score": estimator.unknown_score_,
        "multilabel": estimator.multilabel_,
        "max_length": tokenizer.max_length,
        "strategy_attributes": strategy.attributes_to_json(estimator),
    }
    with replacing_directory(path, may_replace=is_model_directory) as staging:
        # save_model stores tensors that share memory (peft's wrappers) once.
        safetensors.torch.save_model(estimator.module_, staging / WEIGHTS,
                                     metadata={"format": "pt"})
        if estimator.embedding_means_ is not None:
            safetensors.numpy.save_file(
                {"means": estimator.embedding_means_,
                 "precision": estimator.embedding_precision_},
                staging / CLASS_GAUSSIANS)
        base_encoder(estimator.module_).config.save_pretrained(staging / "backbone")
        tokenizer.tokenizer.save_pretrained(staging / "tokenizer")
        if onnx:
            export_onnx(estimator.module_, staging, quantize)
        metadata["files"] = file_manifest(staging)
        (staging / METADATA).write_text(json.dumps(metadata, indent=1, default=json_default))


def is_model_directory(path):
    """Whether ``path`` holds a saved model (which a save may replace)."""
    return (Path(path) / METADATA).exists()


def check_save_target(path):
    """Raise ``ValueError`` now if :func:`save` would refuse ``path``."""
    check_replaceable(path, is_model_directory)


def _sha256(file):
    digest = hashlib.sha256()
    with open(file, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_manifest(root):
    """``{relative path: {"size", "sha256"}}`` of every file under ``root``."""
    root = Path(root)
    return {
        file.relative_to(root).as_posix(): {"size": file.stat().st_size, "sha256": _sha256(file)}
        for file in sorted(root.rglob("*")) if file.is_file() and file.name != METADATA
    }


def check_files(path, manifest, skip=()):
    """Raise ``ModelFormatError`` naming the first listed file that is missing or changed."""
    for name, expected in manifest.items():
        if name in skip:
            continue
        file = path / name
        if not file.is_file():
            raise ModelFormatError(
                f"{file} is missing: {str(path)!r} is not a complete sklearn-tsft model "
                "directory (save it again with clf.save(path)).")
        if file.stat().st_size != expected["size"] or _sha256(file) != expected["sha256"]:
            raise ModelFormatError(
                f"{file} is not the file this model was saved with (its size or checksum "
                "differs from tsft.json): the directory was edited or damaged. Save the "
                "model again.")


def read_metadata(path):
    """The checked contents of ``tsft.json`` in ``path``."""
    path = Path(path)
    if not path.is_dir():
        raise ModelFormatError(f"{str(path)!r} is not a directory written by save().")
    missing = [name for name in FILES if not (path / name).exists()]
    if missing:
        raise ModelFormatError(
            f"{str(path)!r} is missing {', '.join(missing)}; it is not a complete "
            "sklearn-tsft model directory (save again with clf.save(path))."
        )
    try:
        metadata = json.loads((path / METADATA).read_text())
        version = metadata["format_version"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFormatError(f"{path / METADATA} is corrupted ({exc}).") from exc
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFormatError(
            f"{str(path)!r} was written in format version {version} by sklearn-tsft "
            f"{metadata.get('sklearn_tsft_version')}; this sklearn-tsft "
            f"({__version__}) reads up to version {FORMAT_VERSION}. Upgrade: "
            "pip install -U sklearn-tsft."
        )
    if version >= 2:
        if not isinstance(metadata.get("files"), dict):
            raise ModelFormatError(f"{path / METADATA} lacks its list of files; save again.")
        # The ONNX file matters only to backend="onnx", which checks it.
        check_files(path, metadata["files"], skip={ONNX_FILE})
    return metadata


def _checked_pooling(value):
    if value not in POOLINGS:
        raise ValueError(f"pooling {value!r} is not one of {', '.join(POOLINGS)}")
    return value


def _checked_threshold(value):
    # Absent in models saved before out-of-scope detection.
    if value is not None and not (isinstance(value, (int, float)) and np.isfinite(value)):
        raise ValueError(f"unknown_threshold {value!r} is not a finite number")
    return value


def _class_gaussians(path, metadata):
    if CLASS_GAUSSIANS not in metadata.get("files", {}):
        return {"embedding_means_": None, "embedding_precision_": None}
    try:
        arrays = safetensors.numpy.load_file(path / CLASS_GAUSSIANS)
        return {"embedding_means_": arrays["means"], "embedding_precision_": arrays["precision"]}
    except (SafetensorError, OSError, KeyError) as exc:
        raise ModelFormatError(f"{path / CLASS_GAUSSIANS} is corrupted ({exc}).") from exc


def _load_weights(module, path):
    try:
        safetensors.torch.load_model(module, path / WEIGHTS, strict=True, device="cpu")
    except (SafetensorError, OSError) as exc:
        raise ModelFormatError(f"{path / WEIGHTS} is corrupted or unreadable ({exc}).") from exc
    except RuntimeError as exc:  # missing, unexpected or mis-shaped tensors
        details = " ".join(str(exc).split())
        raise ModelFormatError(
            f"{path / WEIGHTS} does not match the architecture in {path / 'backbone'}: {details}"
        ) from exc


def _module(path, backend, metadata, strategy, config, n_classes, pooling, trust_remote_code):
    """The fitted module: torch weights from safetensors, or the directory's ONNX file."""
    if backend == "onnx":
        listed = metadata.get("files", {ONNX_FILE: None})
        if not (path / ONNX_FILE).exists() or ONNX_FILE not in listed:
            raise ModelFormatError(
                f"{str(path)!r} has no {ONNX_FILE} written with this model; write one with "
                "clf.export_onnx(path), or load with backend='torch'."
            )
        if listed[ONNX_FILE] is not None:
            check_files(path, {ONNX_FILE: listed[ONNX_FILE]})
        return OnnxModule(path / ONNX_FILE)
    with quiet_transformers(0):
        encoder = AutoModel.from_config(config, trust_remote_code=trust_remote_code)
    module = TextClassifierModule(strategy.inference_encoder(encoder), n_classes, pooling=pooling)
    _load_weights(module, path)
    return module


def load(cls, path, *, backend="torch", trust_remote_code=False):
    """Rebuild an estimator of class ``cls`` from a directory written by :func:`save`.

    Parameters
    ----------
    cls : type
        ``TokenSparseClassifier`` (or a subclass).
    path : str or os.PathLike
    backend : {"torch", "onnx"}, default="torch"
        ``"onnx"`` predicts through the directory's ``model.onnx`` with
        onnxruntime (written by ``export_onnx``).
    trust_remote_code : bool, default=False
        Passed to transformers; only for backbones whose config needs code
        from the directory, and only for directories you trust.

    Returns
    -------
    estimator : cls
        Fitted; ``predict_proba`` gives what the saved estimator gave.
    """
    if backend not in ("torch", "onnx"):
        raise ValueError(f"backend must be 'torch' or 'onnx', got {backend!r}.")
    path = Path(path)
    metadata = read_metadata(path)
    try:
        params = {name: decode_value(value) for name, value in metadata["params"].items()}
        estimator = cls(**params)
        estimator._validate_params()
        temperature = metadata["temperature"]
        if not (isinstance(temperature, (int, float)) and 0 < temperature < float("inf")):
            raise ValueError(f"temperature {temperature!r} is not a positive finite number")
        classes = _decode_classes(metadata["classes"])
        strategy = make_strategy(params["strategy"], params)
        with quiet_transformers(0):
            config = AutoConfig.from_pretrained(
                path / "backbone", local_files_only=True, trust_remote_code=trust_remote_code)
            tokenizer = AutoTokenizer.from_pretrained(
                path / "tokenizer", local_files_only=True, trust_remote_code=trust_remote_code)
        fitted = {
            **available_strategies()[params["strategy"]].attributes_from_json(
                metadata["strategy_attributes"]),
            "backbone_name_": metadata["backbone_name"],
            # Models saved before the pooling choice all mean-pooled.
            "pooling_": _checked_pooling(metadata.get("pooling", "mean")),
            "tokenizer_": TextTokenizer(tokenizer, metadata["max_length"]),
            "history_": History(metadata["history"]),
            "n_trainable_params_": metadata["n_trainable_params"],
            "trainable_fraction_": metadata["trainable_fraction"],
            "temperature_": float(temperature),
            "unknown_threshold_": _checked_threshold(metadata.get("unknown_threshold")),
            "unknown_score_": metadata.get("unknown_score"),
            "multilabel_": metadata["multilabel"],
            "n_classes_": len(classes),
            **_class_gaussians(path, metadata),
        }
    except KeyError as exc:
        raise ModelFormatError(
            f"{path / METADATA} lacks the entry {exc}; it was written by another "
            "version of sklearn-tsft or edited. Save the model again."
        ) from exc
    except (TypeError, ValueError, OSError) as exc:
        if isinstance(exc, ModelFormatError):
            raise
        raise ModelFormatError(f"cannot load {str(path)!r}: {exc}") from exc
    module = _module(path, backend, metadata, strategy, config, len(classes),
                     fitted["pooling_"], trust_remote_code)
    for name, value in fitted.items():
        setattr(estimator, name, value)
    estimator.module_ = module.eval()
    # Set last: check_is_fitted sees a complete estimator or none.
    estimator.classes_ = classes
    return estimator
