"""ONNX export, int8 quantization and backend='onnx' (tiny backbone)."""

import pickle

import numpy as np
import pytest

from sklearn_tsft import TokenSparseClassifier
from sklearn_tsft import ModelFormatError

from .helpers import block_import

pytest.importorskip("onnxruntime", reason="needs sklearn-tsft[onnx]")

TEXTS = ["card", "my card has not arrived yet please help me today", "refund",
         "why is my money not back", "i need to send a wire transfer to my account now"]


@pytest.fixture(scope="module")
def exported(fitted_tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx")
    fitted_tiny.export_onnx(path)
    return path


def test_onnx_backend_matches_torch_on_padded_batches(fitted_tiny, exported):
    loaded = TokenSparseClassifier.load(exported, backend="onnx")
    np.testing.assert_allclose(loaded.predict_proba(TEXTS),
                               fitted_tiny.predict_proba(TEXTS), atol=1e-5)
    np.testing.assert_array_equal(loaded.predict(TEXTS), fitted_tiny.predict(TEXTS))
    # The directory is also an ordinary saved model.
    np.testing.assert_array_equal(TokenSparseClassifier.load(exported).predict_proba(TEXTS),
                                  fitted_tiny.predict_proba(TEXTS))


def test_onnx_backend_gives_the_same_embeddings(fitted_tiny, exported):
    loaded = TokenSparseClassifier.load(exported, backend="onnx")
    np.testing.assert_allclose(loaded.transform(TEXTS), fitted_tiny.transform(TEXTS), atol=1e-5)
    assert list(loaded.get_feature_names_out()) == list(fitted_tiny.get_feature_names_out())


def test_int8_export_is_smaller_and_close(fitted_tiny, exported, tmp_path, toy_data):
    fitted_tiny.export_onnx(tmp_path, quantize="int8")
    assert (tmp_path / "model.onnx").stat().st_size < (exported / "model.onnx").stat().st_size
    assert not (tmp_path / "model.fp32.onnx").exists()
    loaded = TokenSparseClassifier.load(tmp_path, backend="onnx")
    texts = toy_data[0]
    assert (loaded.predict(texts) == fitted_tiny.predict(texts)).mean() >= 0.9
    np.testing.assert_allclose(loaded.predict_proba(texts).sum(axis=1), 1, rtol=1e-6)


def test_int8_weights_have_one_scale_per_output_channel(fitted_tiny, tmp_path):
    # One scale per weight matrix cost 1.35 points on banking77.
    onnx = pytest.importorskip("onnx")
    fitted_tiny.export_onnx(tmp_path, quantize="int8")
    graph = onnx.load(str(tmp_path / "model.onnx")).graph
    shapes = {tensor.name: list(tensor.dims) for tensor in graph.initializer}
    weights = [(shapes[node.input[1]], shapes[node.input[3]])
               for node in graph.node if node.op_type == "MatMulInteger"]
    assert weights
    assert all(zero_points == weight[1:] for weight, zero_points in weights)


def test_export_traces_eager_attention_and_leaves_the_module_as_it_was(fitted_tiny, exported):
    # Traced SDPA masks attention scores with IsNaN/Where nodes, about 15%
    # of onnxruntime's time on 100-token texts (docs/benchmarks.md).
    onnx = pytest.importorskip("onnx")
    operators = {node.op_type for node in onnx.load(str(exported / "model.onnx")).graph.node}
    assert "Softmax" in operators and "IsNaN" not in operators
    assert fitted_tiny.module_.encoder.config._attn_implementation == "sdpa"


def test_windows_go_through_onnx_too(tiny_params, toy_data, tmp_path):
    long_texts = [" ".join([text] * 6) for text in toy_data[0]]
    clf = TokenSparseClassifier(long_text="chunk", max_length=16, stride=4, **tiny_params)
    clf.fit(long_texts, toy_data[1]).export_onnx(tmp_path)
    loaded = TokenSparseClassifier.load(tmp_path, backend="onnx")
    np.testing.assert_allclose(loaded.predict_proba(long_texts), clf.predict_proba(long_texts),
                               atol=1e-5)


def test_onnx_estimator_pickles_but_is_not_saved_again(exported, tmp_path):
    loaded = TokenSparseClassifier.load(exported, backend="onnx")
    restored = pickle.loads(pickle.dumps(loaded))
    np.testing.assert_array_equal(restored.predict_proba(TEXTS), loaded.predict_proba(TEXTS))
    with pytest.raises(ValueError, match="predicts through ONNX"):
        loaded.save(tmp_path)


def test_onnx_backend_needs_an_exported_file(fitted_tiny, tmp_path):
    fitted_tiny.save(tmp_path)
    with pytest.raises(ModelFormatError, match="has no model.onnx written with this model; write one with"):
        TokenSparseClassifier.load(tmp_path, backend="onnx")
    with pytest.raises(ValueError, match="backend must be 'torch' or 'onnx'"):
        TokenSparseClassifier.load(tmp_path, backend="tflite")


def test_bad_quantize_and_missing_onnxruntime(fitted_tiny, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="quantize must be None or 'int8'"):
        fitted_tiny.export_onnx(tmp_path, quantize="int4")
    block_import(monkeypatch, "onnxruntime")
    with pytest.raises(ImportError, match=r"pip install 'sklearn-tsft\[onnx\]'"):
        fitted_tiny.export_onnx(tmp_path)
