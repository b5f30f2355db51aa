"""benchmarks/out_of_scope.py: the held-out split and the scores' metrics, without a fit."""

import numpy as np
import pandas as pd
import pytest

from .helpers import benchmark_script

INTENTS = [f"intent_{i:02d}" for i in range(12)]


@pytest.fixture(scope="module")
def out_of_scope():
    return benchmark_script("out_of_scope")


@pytest.fixture
def banking77(tmp_path):
    """A banking77-shaped folder: 12 intents, 4 training and 2 test texts each."""
    for name, per_intent in [("train", 4), ("test", 2)]:
        pd.DataFrame({"text": [f"{name} text {k} of {intent}" for intent in INTENTS
                               for k in range(per_intent)],
                      "category": [intent for intent in INTENTS for _ in range(per_intent)]}
                     ).to_csv(tmp_path / f"{name}.csv", index=False)
    return tmp_path


def test_held_out_intents_are_ten_labels_drawn_by_seed(out_of_scope):
    held_out = out_of_scope.held_out_intents(np.array(INTENTS * 3))
    assert len(held_out) == out_of_scope.N_HELD_OUT == 10 and held_out <= set(INTENTS)
    assert held_out == out_of_scope.held_out_intents(list(reversed(INTENTS)))
    assert held_out != out_of_scope.held_out_intents(INTENTS, seed=1)


def test_split_trains_without_the_held_out_intents_and_marks_their_test_texts(
        out_of_scope, banking77):
    X_train, y_train, X_test, y_test, is_out = out_of_scope.out_of_scope_split(
        banking77, per_class=3)
    held_out = out_of_scope.held_out_intents(y_test)
    in_scope = set(INTENTS) - held_out
    assert set(y_train) == in_scope and len(X_train) == len(y_train) == 3 * len(in_scope)
    assert all(text.endswith(label) for text, label in zip(X_train, y_train))
    assert len(X_test) == len(y_test) == 2 * len(INTENTS)
    np.testing.assert_array_equal(is_out, [label in held_out for label in y_test])
    assert is_out.sum() == 2 * 10


def test_scope_metrics_known_values(out_of_scope):
    in_scope = np.arange(1.0, 21.0)            # the 5% quantile is 1.95
    scores = np.concatenate([in_scope, [0.5, 10.0]])
    is_out = np.arange(22) >= 20
    metrics = out_of_scope.scope_metrics(scores, is_out)
    # AUROC (in scope ranked above): 0.5 is below all 20 in-scope scores, 10.0 below
    # 10 of them (11-20) and tied with one.
    assert metrics["auroc"] == pytest.approx((20 + 10.5) / 40)
    assert metrics["recall_at_5"] == 0.5       # 0.5 < 1.95, 10.0 is not
    perfect = out_of_scope.scope_metrics(np.concatenate([in_scope, [-1.0, -2.0]]), is_out)
    assert perfect == {"auroc": 1.0, "recall_at_5": 1.0}


def test_summary_averages_over_seeds_per_strategy_and_score(out_of_scope):
    rows = [{"strategy": "token_sparse", "seed": seed, "score": "max_proba",
             "in_scope_accuracy": accuracy, "auroc": auroc, "recall_at_5": recall}
            for seed, accuracy, auroc, recall in [(0, 0.8, 0.9, 0.2), (1, 0.9, 0.7, 0.4)]]
    table = out_of_scope.summary(pd.DataFrame(rows))
    body = table.splitlines()[2].replace(" ", "")
    # mean accuracy 85.0%, AUROC 0.8000 (std 0.1414), recall 30.0%, 2 seeds
    assert body == "|token_sparse|max_proba|85.0|0.8000|0.1414|30.0|2|"
