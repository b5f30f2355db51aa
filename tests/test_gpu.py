"""GPU behaviour (tiny backbone); skipped without a CUDA device. Run by benchmarks/gpu_check.sh."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

from sklearn_tsft import TokenSparseClassifier

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.fixture
def gpu_params(tiny_params):
    return dict(tiny_params, device="cuda")


@pytest.mark.parametrize("strategy", ["token_sparse", "full"])
def test_fit_on_gpu_reports_memory_and_leaves_the_module_on_the_cpu(gpu_params, toy_data,
                                                                   strategy):
    clf = TokenSparseClassifier(strategy=strategy, **gpu_params).fit(*toy_data)
    assert all(entry["cuda_max_memory_mb"] > 0 for entry in clf.history_)
    assert next(clf.module_.parameters()).device.type == "cpu"
    np.testing.assert_allclose(clf.predict_proba(toy_data[0]).sum(axis=1), 1, rtol=1e-5)


def test_a_gpu_fit_saved_loads_and_predicts_on_the_cpu(gpu_params, toy_data, tmp_path):
    clf = TokenSparseClassifier(precision="fp32", **gpu_params).fit(*toy_data)
    clf.save(tmp_path)
    on_cpu = TokenSparseClassifier.load(tmp_path).set_params(device="cpu")
    np.testing.assert_allclose(on_cpu.predict_proba(toy_data[0]),
                               clf.predict_proba(toy_data[0]), atol=1e-5)


def test_bf16_autocast_is_the_default_where_supported(gpu_params, toy_data):
    if not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    clf = TokenSparseClassifier(**gpu_params).fit(*toy_data)
    assert np.isfinite(clf.history_[:, "train_loss"]).all()


def test_grid_search_frees_gpu_memory_between_fits(gpu_params, toy_data):
    before = torch.cuda.memory_allocated()
    GridSearchCV(TokenSparseClassifier(**gpu_params), {"sparsity": [0.01, 0.05]}, cv=2).fit(
        *toy_data)
    assert torch.cuda.memory_allocated() - before < 2**20
