"""Several processes: grid search on a dask.distributed LocalCluster, one fit under torchrun."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from joblib import parallel_backend
from sklearn.model_selection import GridSearchCV

from sklearn_tsft import TokenSparseClassifier


def test_grid_search_on_a_local_dask_cluster_matches_the_serial_search(tiny_params, toy_data):
    distributed = pytest.importorskip("distributed", reason="needs sklearn-tsft[distributed]")
    grid = {"sparsity": [0.01, 0.05]}
    serial = GridSearchCV(TokenSparseClassifier(**tiny_params), grid, cv=2).fit(*toy_data)

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  env={"OMP_NUM_THREADS": "1"}) as cluster, \
            distributed.Client(cluster), parallel_backend("dask"):
        assert len(cluster.workers) == 2
        on_dask = GridSearchCV(TokenSparseClassifier(**tiny_params), grid, cv=2, n_jobs=2)
        on_dask.fit(*toy_data)

    np.testing.assert_array_equal(on_dask.cv_results_["mean_test_score"],
                                  serial.cv_results_["mean_test_score"])
    assert on_dask.best_params_ == serial.best_params_
    texts = toy_data[0]
    np.testing.assert_array_equal(on_dask.best_estimator_.predict_proba(texts),
                                  serial.best_estimator_.predict_proba(texts))


TWO_PROCESS_FIT = """
import json, sys
from pathlib import Path
from accelerate import PartialState
from sklearn_tsft import TokenSparseClassifier

backbone, folder = sys.argv[1], Path(sys.argv[2])
texts, labels = json.loads((folder / "data.json").read_text())
clf = TokenSparseClassifier(backbone, accelerate=True, max_epochs=4, batch_size=8,
                            head_lr=1e-1, validation_fraction=0.25, early_stopping=1,
                            random_state=0)
clf.fit(texts, labels)
state = PartialState()
(folder / f"rank{state.process_index}.json").write_text(json.dumps({
    "n_processes": state.num_processes,
    "proba": clf.predict_proba(texts).tolist(),
    "valid_loss": clf.history_[:, "valid_loss"],
    "valid_acc": clf.history_[:, "valid_acc"],
    "valid_texts": [sum(batch.get("valid_batch_size", 0) for batch in epoch["batches"])
                    for epoch in clf.history_],
}))
"""


def test_two_cpu_processes_under_torchrun_train_one_model(tiny_backbone, toy_data, tmp_path):
    pytest.importorskip("accelerate", reason="needs sklearn-tsft[accelerate]")
    script = tmp_path / "fit.py"
    script.write_text(TWO_PROCESS_FIT)
    (tmp_path / "data.json").write_text(json.dumps([list(toy_data[0]), toy_data[1].tolist()]))
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    launched = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(script), tiny_backbone, str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{i}.json").read_text()) for i in range(2)]
    assert [rank["n_processes"] for rank in ranks] == [2, 2]
    # DDP kept the weights equal, and validation on the whole split made
    # early stopping end both processes at the same epoch.
    assert ranks[0]["valid_loss"] == ranks[1]["valid_loss"]
    # Validation gathered the shares of the 10 held-out texts (without the
    # texts accelerate repeats to even them out), so each process scored all
    # of them exactly once.
    assert all(n == 10 for rank in ranks for n in rank["valid_texts"])
    assert ranks[0]["valid_acc"] == ranks[1]["valid_acc"]
    np.testing.assert_array_equal(ranks[0]["proba"], ranks[1]["proba"])
