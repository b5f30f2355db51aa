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
import warnings
from pathlib import Path, PurePosixPath

import numpy as np
import safetensors.numpy
import safetensors.torch
import torch
from safetensors import SafetensorError, safe_open
from transformers import AutoConfig, AutoModel, AutoTokenizer

from ._atomic import check_replaceable, replacing_directory, unexpected_beside_manifest
from ._data import TextTokenizer
from ._json import json_default
from ._params import Options
from ._version import __version__
from ._device import resolve_device
from .backbone import (
    TextClassifierModule,
    check_max_length,
    check_vocabulary,
    config_digest,
    portable_model,
    quiet_transformers,
)
from .exceptions import ModelFormatError
from .fitted_state import attributes_from_metadata, is_int, json_attributes, json_schema
from .model_card import MODEL_CARD, model_card
from .onnx_export import ONNX_FILE, OnnxModule, export_onnx
from .strategies import available_strategies, make_strategy

# What load(backend=...) predicts through.
BACKENDS = ("torch", "onnx")
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


def decode_classes(data, file):
    """The ``classes_`` array that :func:`_encode_classes` wrote."""
    values = data["values"]
    if not all(isinstance(value, (bool, int, float, str)) for value in values):
        raise ModelFormatError(f"{file}: the classes are not all strings, numbers or bools.")
    try:
        return np.array(values, dtype=object if data["dtype"] == "object" else data["dtype"])
    except (TypeError, ValueError) as exc:
        raise ModelFormatError(f"{file}: the classes do not fit their dtype ({exc}).") from exc


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
    try:
        estimator._validate_params(machine=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"cannot save: {exc} A parameter was set to this after fit; set it back to a "
            "valid value (a saved model must load)."
        ) from exc
    # Callbacks act while training only, and are objects JSON cannot hold;
    # the backbone is named without the trainer's file layout (a string
    # even when it was given as a pathlib.Path).
    given = {**estimator.get_params(deep=False), "model": portable_model(estimator.model)}
    params = {name: encode_value(value, name) for name, value in given.items()
              if name != "callbacks"}
    strategy = available_strategies()[estimator.strategy]
    tokenizer = estimator.tokenizer_
    metadata = {
        "format": "sklearn-tsft",
        "format_version": FORMAT_VERSION,
        "sklearn_tsft_version": __version__,
        "params": params,
        "classes": _encode_classes(estimator.classes_),
        **json_attributes(estimator),
        "backbone_config": config_digest(base_encoder(estimator.module_).config),
        "max_length": tokenizer.max_length,
        "strategy_attributes": strategy.attributes_to_json(estimator),
    }
    with replacing_directory(path, unexpected=not_saved_here) as staging:
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
        (staging / MODEL_CARD).write_text(model_card(estimator, Path(path)))
        metadata["files"] = file_manifest(staging)
        (staging / METADATA).write_text(json.dumps(metadata, indent=1, default=json_default))


def not_saved_here(path):
    """What ``path`` holds besides the files that its ``tsft.json`` lists.

    A save replaces a directory only when this is nothing: a saved model,
    untouched, with nothing of the user's added to it.
    """
    return unexpected_beside_manifest(path, METADATA)


def check_save_target(path):
    """Raise ``ValueError`` now if :func:`save` would refuse ``path``."""
    check_replaceable(path, not_saved_here)


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
    """The checked contents of ``tsft.json`` in ``path``.

    The format version is read first, then the file list is checked
    against the files, then every other entry against :data:`SCHEMA`:
    nothing is built from a value that has not been checked.
    """
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
    if not is_int(version) or version > FORMAT_VERSION:
        raise ModelFormatError(
            f"{str(path)!r} was written in format version {version!r} by sklearn-tsft "
            f"{metadata.get('sklearn_tsft_version')}; this sklearn-tsft "
            f"({__version__}) reads up to version {FORMAT_VERSION}. Upgrade: "
            "pip install -U sklearn-tsft."
        )
    if version < FORMAT_VERSION:
        # Version 1 carried no file list; reading it would skip every file check.
        raise ModelFormatError(
            f"{str(path)!r} says format version {version}, which lists no checksums of its "
            f"files; this sklearn-tsft reads version {FORMAT_VERSION}. Load it with the "
            "release that wrote it and save it again."
        )
    check_schema(metadata, path / METADATA)
    # The ONNX file matters only to backend="onnx", which checks it.
    # A user may edit the model card; the model does not depend on it.
    check_files(path, metadata["files"], skip={ONNX_FILE, MODEL_CARD})
    return metadata


def _is_file_list(files):
    return isinstance(files, dict) and all(
        isinstance(name, str) and name and not name.startswith("/")
        and ".." not in PurePosixPath(name).parts
        and isinstance(entry, dict) and is_int(entry.get("size")) and entry["size"] >= 0
        and isinstance(entry.get("sha256"), str) and len(entry["sha256"]) == 64
        for name, entry in files.items())


def _is_class_list(classes):
    return (isinstance(classes, dict) and isinstance(classes.get("dtype"), str)
            and isinstance(classes.get("values"), list) and len(classes["values"]) >= 1)


# entry: (required, check, what it must be). Entries added after format
# version 2 came out are optional, with the default that load applies. The
# fitted attributes' entries come from fitted_state.
SCHEMA = {
    "format": (True, lambda v: v == "sklearn-tsft", "'sklearn-tsft'"),
    "files": (True, _is_file_list, "a list of relative file names with sizes and SHA-256"),
    "params": (True, lambda v: isinstance(v, dict) and all(isinstance(k, str) for k in v),
               "an object of parameters"),
    "classes": (True, _is_class_list, "an object with a dtype and a list of values"),
    "backbone_config": (False, lambda v: isinstance(v, str), "a string"),
    "max_length": (True, lambda v: is_int(v) and v >= 2, "an int of at least 2"),
    "strategy_attributes": (True, lambda v: isinstance(v, dict), "an object"),
    **json_schema(),
}


def check_schema(metadata, file):
    """Raise ``ModelFormatError`` naming the first entry of ``tsft.json`` that is wrong."""
    for name, (required, check, expected) in SCHEMA.items():
        if name not in metadata:
            if required:
                raise ModelFormatError(
                    f"{file} lacks the entry {name!r}; it was written by another version of "
                    "sklearn-tsft or edited. Save the model again.")
            continue
        if not check(metadata[name]):
            raise ModelFormatError(
                f"{file}: {name} {_shown(metadata[name])} is not {expected}; the file was "
                "edited or damaged. Save the model again.")
    classes = decode_classes(metadata["classes"], file)
    if len(set(classes.tolist())) != len(classes):
        raise ModelFormatError(f"{file}: the classes repeat a label; save the model again.")
    if not metadata["multilabel"] and len(classes) < 2:
        raise ModelFormatError(f"{file}: a classifier has at least two classes.")
    thresholds = metadata.get("label_thresholds")
    if thresholds is not None and len(thresholds) != len(classes):
        raise ModelFormatError(f"{file}: label_thresholds has {len(thresholds)} entries for "
                               f"{len(classes)} labels; save the model again.")


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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


def _module(path, backend, metadata, strategy, config, n_classes, pooling, tokenizer,
            trust_remote_code):
    """The fitted module: torch weights from safetensors, or the directory's ONNX file."""
    if backend == "onnx":
        listed = metadata["files"]
        if not (path / ONNX_FILE).exists() or ONNX_FILE not in listed:
            raise ModelFormatError(
                f"{str(path)!r} has no {ONNX_FILE} written with this model; write one with "
                "clf.export_onnx(path), or load with backend='torch'."
            )
        check_files(path, {ONNX_FILE: listed[ONNX_FILE]})
        return OnnxModule(path / ONNX_FILE)

    def build():
        with quiet_transformers(0):
            encoder = AutoModel.from_config(config, trust_remote_code=trust_remote_code)
        return TextClassifierModule(strategy.inference_encoder(encoder), n_classes,
                                    pooling=pooling)

    # The architecture is checked on the meta device (shapes, no memory)
    # before a config that asks for a huge model can allocate it.
    with torch.device("meta"):
        skeleton = build()
    _check_architecture(skeleton, path, tokenizer, metadata["max_length"])
    module = build()
    _load_weights(module, path)
    return module


def _check_architecture(skeleton, path, tokenizer, max_length):
    """Compare the config's architecture with the weight file's header and the tokenizer."""
    expected = {name: tuple(tensor.shape) for name, tensor in skeleton.state_dict().items()}
    try:
        with safe_open(path / WEIGHTS, framework="pt") as weights:
            stored = {name: tuple(weights.get_slice(name).get_shape()) for name in weights.keys()}
    except (SafetensorError, OSError) as exc:
        raise ModelFormatError(f"{path / WEIGHTS} is corrupted or unreadable ({exc}).") from exc
    for name, shape in stored.items():
        if expected.get(name) != shape:
            raise ModelFormatError(
                f"{path / WEIGHTS} does not match the architecture in {path / 'backbone'}: "
                f"{name} is stored with shape {shape}, the config gives "
                f"{expected.get(name, 'no such tensor')}. The directory was edited; save the "
                "model again.")
    try:
        check_vocabulary(tokenizer, skeleton.encoder)
        check_max_length(max_length, skeleton.encoder, "is saved in tsft.json")
    except ValueError as exc:
        raise ModelFormatError(f"{path}: {exc}") from exc


def _device_here(estimator, device):
    """The ``device`` parameter of a loaded estimator, chosen on this machine.

    ``device`` (load's argument) wins; else the saved one is kept when this
    machine has it, and becomes "auto" (with a warning) when it does not.
    """
    if device is not None:
        resolve_device(device)
        return device
    try:
        resolve_device(estimator.device)
    except ValueError:
        warnings.warn(
            f"this model was saved with device={estimator.device!r}, which this machine "
            "does not have; it is loaded with device='auto'. Pass load(..., device=...) to "
            "choose.", UserWarning, stacklevel=3)
        return "auto"
    return estimator.device


def load(cls, path, *, backend="torch", device=None, trust_remote_code=False):
    """Rebuild an estimator of class ``cls`` from a directory written by :func:`save`.

    The directory is checked against what it holds, never against the
    machine that wrote it: the backbone comes from the directory (the
    ``model`` directory of the fit need not exist here), and the device is
    chosen here.

    Parameters
    ----------
    cls : type
        ``TokenSparseClassifier`` (or a subclass).
    path : str or os.PathLike
    backend : {"torch", "onnx"}, default="torch"
        ``"onnx"`` predicts through the directory's ``model.onnx`` with
        onnxruntime (written by ``export_onnx``).
    device : str or None, default=None
        The loaded estimator's ``device``. None keeps the saved one where
        this machine has it, else "auto" (with a warning).
    trust_remote_code : bool, default=False
        Passed to transformers; only for backbones whose config needs code
        from the directory, and only for directories you trust.

    Returns
    -------
    estimator : cls
        Fitted; ``predict_proba`` gives what the saved estimator gave.
    """
    Options(*BACKENDS, message="backend must be 'torch' or 'onnx', got {value!r}.").check(
        "backend", backend)
    path = Path(path)
    metadata = read_metadata(path)
    try:
        params = {name: decode_value(value) for name, value in metadata["params"].items()}
        estimator = cls(**params)
        estimator._validate_params(machine=False)
        estimator.device = _device_here(estimator, device)
        classes = decode_classes(metadata["classes"], path / METADATA)
        strategy = make_strategy(params["strategy"], params)
        with quiet_transformers(0):
            config = AutoConfig.from_pretrained(
                path / "backbone", local_files_only=True, trust_remote_code=trust_remote_code)
            tokenizer = AutoTokenizer.from_pretrained(
                path / "tokenizer", local_files_only=True, trust_remote_code=trust_remote_code)
        fitted = {
            **available_strategies()[params["strategy"]].attributes_from_json(
                metadata["strategy_attributes"]),
            **attributes_from_metadata(metadata),
            "tokenizer_": TextTokenizer(tokenizer, metadata["max_length"]),
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
                     fitted["pooling_"], tokenizer, trust_remote_code)
    for name, value in fitted.items():
        setattr(estimator, name, value)
    estimator.module_ = module.eval()
    # Set last: check_is_fitted sees a complete estimator or none.
    estimator.classes_ = classes
    return estimator
