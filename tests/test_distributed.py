"""Grid search on a real dask.distributed LocalCluster equals the serial search."""

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
