"""
The task tokens that drove the sparse selection
===============================================

``token_sparse`` starts by finding the words most tied to the labels (the
chi-square statistic of a word's presence against the class). They decide
which rows of the backbone's weights train. ``task_tokens_`` lists them,
best first; words the tokenizer split into pieces took a reserved
vocabulary slot of their own.

Run: ``python examples/plot_task_tokens.py [--quick] [--data DIR]``
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from _common import load_banking77, parse_args, save

from sklearn_tsft import TokenSparseClassifier

args = parse_args(__doc__.strip().splitlines()[0], "task_tokens.png")
train, test = load_banking77(args)
clf = TokenSparseClassifier(args.model, max_epochs=1 if args.quick else 3,
                            random_state=args.seed)
clf.fit(train.text, train.category)
print(f"accuracy on {len(test)} test texts: {clf.score(test.text, test.category):.3f}")

# %%
# The 20 strongest task tokens; hatched bars took a reserved slot.
tokens = clf.task_tokens_[:20][::-1]
figure, axis = plt.subplots(figsize=(7, 6))
bars = axis.barh([t.word for t in tokens], [t.score for t in tokens])
for bar, token in zip(bars, tokens):
    if token.slot is not None:
        bar.set_hatch("//")
axis.set(xlabel="chi-square score", title="task tokens of banking77 (hatched: own slot)")
save(figure, args.out)
