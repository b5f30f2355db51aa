"""
Saying "none of these" to out-of-scope texts
============================================

An intent classifier meets texts of no trained intent. Here the last
intents of the slice are held out of training and play that part.
``score_samples`` says how much a text looks like the trained intents;
with ``unknown_label``, ``predict`` answers that label below a threshold
set so that 5% of held-out in-scope texts are rejected. The Mahalanobis
score measures the distance of a text's embedding to the nearest intent.

Run: ``python examples/plot_out_of_scope.py [--quick] [--data DIR]``
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from _common import load_banking77, parse_args, save
from sklearn.metrics import roc_auc_score

from sklearn_tsft import TokenSparseClassifier

args = parse_args(__doc__.strip().splitlines()[0], "out_of_scope.png")
train, test = load_banking77(args)
intents = sorted(train.category.unique())
held_out = intents[-max(1, len(intents) // 5):]
train = train[~train.category.isin(held_out)]
out_of_scope = test.category.isin(held_out).to_numpy()

clf = TokenSparseClassifier(args.model, max_epochs=1 if args.quick else "auto",
                            validation_fraction=0.2, oos_score="mahalanobis",
                            unknown_label="out of scope", unknown_rate=0.05,
                            random_state=args.seed)
clf.fit(train.text, train.category)

# %%
# Held-out intents should score low, and be answered "out of scope".
scores = clf.score_samples(test.text)
predicted = clf.predict(test.text)
recall = np.mean(predicted[out_of_scope] == "out of scope")
accuracy = np.mean(predicted[~out_of_scope] == test.category[~out_of_scope])
print(f"held out: {', '.join(held_out)}")
print(f"AUROC {roc_auc_score(~out_of_scope, scores):.3f}, out-of-scope recall {recall:.2f}, "
      f"in-scope accuracy {accuracy:.3f}")

figure, axis = plt.subplots(figsize=(7, 4))
bins = np.linspace(scores.min(), scores.max(), 40)
axis.hist(scores[~out_of_scope], bins=bins, alpha=0.6, label="trained intents")
axis.hist(scores[out_of_scope], bins=bins, alpha=0.6, label="held-out intents")
axis.axvline(clf.unknown_threshold_, color="black", linestyle="--", label="threshold")
axis.set(xlabel="score_samples (Mahalanobis)", ylabel="test texts")
axis.legend()
save(figure, args.out)
