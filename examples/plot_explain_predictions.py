"""
Which words decided a prediction
================================

``explain`` gives each word of a text its contribution to the predicted
class's probability: the probability with the word minus the probability
with the word left out. ``plot_explanation`` shades the words by it: blue
words pushed towards the predicted intent, red ones away from it.

Run: ``python examples/plot_explain_predictions.py [--quick] [--data DIR]``
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from _common import load_banking77, parse_args, save

from sklearn_tsft import TokenSparseClassifier
from sklearn_tsft.plotting import plot_explanation

args = parse_args(__doc__.strip().splitlines()[0], "explain_predictions.png")
train, test = load_banking77(args)
clf = TokenSparseClassifier(args.model, max_epochs=1 if args.quick else "auto",
                            random_state=args.seed)
clf.fit(train.text, train.category)
print(f"accuracy on {len(test)} test texts: {clf.score(test.text, test.category):.3f}")

# %%
# Four test texts, their predicted intent, and each word's contribution on
# one shared scale, so that shades compare across texts.
texts = test.text[:4].tolist()
explanations = clf.explain(texts)
predicted = clf.predict(texts)
strongest = max(abs(c) for pairs in explanations for _, c in pairs)
figure, axes = plt.subplots(len(texts), 1, figsize=(8, 1.3 * len(texts)))
for ax, pairs, label in zip(axes, explanations, predicted):
    # One colour bar, under the last text: the scale is shared.
    plot_explanation(pairs, ax=ax, max_contribution=strongest, colorbar=ax is axes[-1])
    ax.set_title(f"predicted: {label}", loc="left", fontsize=10)
    top = max(pairs, key=lambda pair: pair[1])
    print(f"{label:>30}: {top[0]!r} contributes {top[1]:+.3f}")
save(figure, args.out)
