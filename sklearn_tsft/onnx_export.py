"""ONNX export (optionally int8-quantized) and prediction through onnxruntime.

``export_onnx`` traces the fitted module (token ids and attention mask in,
logits and the pooled embedding out; batch size and length dynamic; eager
attention) with torch's
TorchScript-based exporter, and ``quantize="int8"`` applies onnxruntime's
dynamic int8 quantization with one weight scale per output channel and
weights in 7 bits, which stay exact on CPUs without VNNI.
:class:`OnnxModule` runs such a file with the calling convention of
:class:`~sklearn_tsft.backbone.TextClassifierModule`, so the estimator's
batching, windows and temperature apply unchanged.
"""

import contextlib
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from ._optional import import_optional

ONNX_FILE = "model.onnx"
QUANTIZATIONS = (None, "int8")


def import_onnxruntime():
    """Import ``onnxruntime`` or say which extra installs it."""
    return import_optional("onnxruntime", "onnx", "ONNX export (and backend='onnx')")


def _example_batch(vocab_size):
    # Two rows of different lengths, so the traced graph applies the mask.
    input_ids = torch.randint(0, vocab_size, (2, 8), generator=torch.Generator().manual_seed(0))
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 5:] = 0
    return input_ids, attention_mask


def export_onnx(module, path, quantize=None):
    """Write ``module`` as ``path/model.onnx`` (int8 weights with ``quantize="int8"``).

    Parameters
    ----------
    module : TextClassifierModule
        A fitted module on the CPU.
    path : pathlib.Path
        An existing directory.
    quantize : {None, "int8"}, default=None
    """
    import_onnxruntime()
    target = Path(path) / ONNX_FILE
    traced = target.with_suffix(".fp32.onnx") if quantize else target
    was_training = module.training
    module.eval()
    try:
        with warnings.catch_warnings(), _eager_attention(module.encoder):
            # The tracer's notes on Python control flow concern shapes that
            # the example batch fixes as the exported graph expects.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _GraphOutputs(module),
                _example_batch(module.encoder.config.vocab_size),
                traced,
                input_names=["input_ids", "attention_mask"],
                output_names=["logits", "embedding"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "logits": {0: "batch"},
                    "embedding": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
    finally:
        module.train(was_training)
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        root_logger = logging.getLogger()
        root_logger.addFilter(_drop_pre_processing_advice)
        try:
            # One scale per output channel: with one scale per weight matrix,
            # a few large columns cost 1.35 points on banking77
            # (docs/benchmarks.md). Weights in 7 bits (reduce_range): x86
            # CPUs without VNNI multiply uint8 activations by int8 weights
            # in pairs summed into 16 bits, which saturate at full 8-bit
            # range (on an AVX2-only AMD EPYC a tiny model's int8 predictions
            # then agreed with its float ones on 75% of texts, against 100%
            # with 7 bits); the file may be served on such a machine.
            quantize_dynamic(traced, target, weight_type=QuantType.QInt8, per_channel=True,
                             reduce_range=True)
        finally:
            root_logger.removeFilter(_drop_pre_processing_advice)
        traced.unlink()


class _GraphOutputs(nn.Module):
    # One graph gives both outputs: the embedding feeds the Mahalanobis
    # out-of-scope score.
    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, input_ids, attention_mask):
        return self.module.logits_and_embedding(input_ids, attention_mask)


@contextlib.contextmanager
def _eager_attention(encoder):
    # Traced SDPA attention masks its scores with Where and IsNaN nodes that
    # cost onnxruntime about 15% on 100-token texts; eager attention adds the
    # mask instead (same outputs; no difference on short texts).
    previous = encoder.config._attn_implementation
    encoder.set_attn_implementation("eager")
    try:
        yield
    finally:
        encoder.set_attn_implementation(previous)


def _drop_pre_processing_advice(record):
    # onnxruntime advises quant_pre_process on every call; its symbolic shape
    # inference fails on these graphs, so the advice only misleads users.
    return not record.getMessage().startswith("Please consider to run pre-processing")


class OnnxModule(nn.Module):
    """An exported classifier run by onnxruntime on the CPU, called like the torch module.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.onnx`` file.
    """

    def __init__(self, path):
        super().__init__()
        self.path = str(path)
        self._session = self._open()

    def _open(self):
        onnxruntime = import_onnxruntime()
        return onnxruntime.InferenceSession(self.path, providers=["CPUExecutionProvider"])

    def forward(self, input_ids, attention_mask, example_index=None):
        return self._run(["logits"], input_ids, attention_mask)[0]

    @property
    def embedding_size(self):
        """Length of the pooled embedding, read from the ONNX graph's output."""
        return self._embedding_output().shape[1]

    def logits_and_embedding(self, input_ids, attention_mask):
        """The logits and the pooled embedding (older exported files lack the embedding)."""
        self._embedding_output()
        return tuple(self._run(["logits", "embedding"], input_ids, attention_mask))

    def _embedding_output(self):
        for output in self._session.get_outputs():
            if output.name == "embedding":
                return output
        raise ValueError(
            f"{self.path} has no embedding output (exported by an older sklearn-tsft); "
            "export it again with clf.export_onnx(path), or load with backend='torch'.")

    def _run(self, outputs, input_ids, attention_mask):
        feeds = {"input_ids": input_ids.cpu().numpy(), "attention_mask": attention_mask.cpu().numpy()}
        return [torch.from_numpy(array) for array in self._session.run(outputs, feeds)]

    def __getstate__(self):
        # An onnxruntime session cannot be pickled; the file is reopened.
        state = self.__dict__.copy()
        del state["_session"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._session = self._open()
