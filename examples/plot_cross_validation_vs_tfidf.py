"""
Cross-validation against TF-IDF + logistic regression
=====================================================

The classic baseline and ``TokenSparseClassifier`` scored the same way, with
``cross_val_score`` on the same folds of a banking77 slice.

Run: ``python examples/plot_cross_validation_vs_tfidf.py [--quick] [--data DIR]``
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from _common import load_banking77, parse_args, save
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from sklearn_tsft import TokenSparseClassifier

args = parse_args(__doc__.strip().splitlines()[0], "cross_validation_vs_tfidf.png")
train, _ = load_banking77(args)
folds = StratifiedKFold(n_splits=3 if args.quick else 5, shuffle=True, random_state=args.seed)
models = {
    "TF-IDF + LogisticRegression": make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(max_iter=2000)),
    "TokenSparseClassifier": TokenSparseClassifier(
        args.model, max_epochs=1 if args.quick else 3, random_state=args.seed),
}
scores = {name: cross_val_score(model, train.text, train.category, cv=folds)
          for name, model in models.items()}
for name, values in scores.items():
    print(f"{name}: {values.mean():.3f} ± {values.std():.3f}")

# %%
figure, axis = plt.subplots(figsize=(6, 4))
axis.boxplot(list(scores.values()), tick_labels=list(scores))
axis.set(ylabel="accuracy per fold", title=f"{folds.n_splits}-fold cross-validation")
save(figure, args.out)
