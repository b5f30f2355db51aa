"""
Grid-searching the sparsity level and the strategy
==================================================

``sparsity`` (the fraction of backbone weights that may change) is
token_sparse's main knob, and ``strategy`` chooses the method. Both are
ordinary parameters, so one ``GridSearchCV`` compares them.

Run: ``python examples/plot_grid_search_sparsity.py [--quick] [--data DIR]``
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from _common import load_banking77, parse_args, save
from sklearn.model_selection import GridSearchCV

from sklearn_tsft import TokenSparseClassifier

args = parse_args(__doc__.strip().splitlines()[0], "grid_search_sparsity.png")
train, _ = load_banking77(args)
grid = [{"strategy": ["token_sparse"], "sparsity": [0.01, 0.05, 0.1]},
        {"strategy": ["full", "bitfit"]}]
search = GridSearchCV(
    TokenSparseClassifier(args.model, max_epochs=1 if args.quick else 3, random_state=args.seed),
    grid, cv=2 if args.quick else 3)
search.fit(train.text, train.category)
results = pd.DataFrame(search.cv_results_)
print(results[["param_strategy", "param_sparsity", "mean_test_score", "std_test_score"]])
print("best:", search.best_params_)

# %%
# Mean test score against sparsity, the other strategies as reference lines.
sparse = results[results.param_strategy == "token_sparse"]
figure, axis = plt.subplots(figsize=(6, 4))
axis.errorbar(sparse.param_sparsity.astype(float), sparse.mean_test_score,
              yerr=sparse.std_test_score, fmt="o-", capsize=4, label="token_sparse")
others = results[results.param_strategy != "token_sparse"]
for color, (strategy, score) in enumerate(zip(others.param_strategy, others.mean_test_score), 1):
    axis.axhline(score, linestyle="--", lw=1, color=f"C{color}", label=strategy)
axis.set(xscale="log", xlabel="sparsity", ylabel="mean test accuracy",
         title="GridSearchCV over sparsity and strategy")
axis.legend()
save(figure, args.out)
