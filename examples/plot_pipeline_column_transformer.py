"""
A text column and numeric columns in one pipeline
=================================================

``TokenSparseClassifier`` reads one text column; numeric columns go
through their own model, and a ``StackingClassifier`` learns how much to
trust each. ``ColumnTransformer`` hands each model its columns, so the
whole thing is one estimator on a DataFrame.

Run: ``python examples/plot_pipeline_column_transformer.py [--quick] [--data DIR]``
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from _common import load_banking77, parse_args, save
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_tsft import TokenSparseClassifier


def with_numeric_columns(frame):
    """The text plus three numbers computed from it, as a stand-in for real metadata."""
    return frame.assign(n_words=frame.text.str.split().str.len(),
                        n_chars=frame.text.str.len(),
                        is_question=frame.text.str.contains(r"\?").astype(int))


args = parse_args(__doc__.strip().splitlines()[0], "pipeline_column_transformer.png")
train, test = map(with_numeric_columns, load_banking77(args))
numeric = ["n_words", "n_chars", "is_question"]
text_model = make_pipeline(
    ColumnTransformer([("text", "passthrough", ["text"])]),
    TokenSparseClassifier(args.model, max_epochs=1 if args.quick else 3, random_state=args.seed))
numeric_model = make_pipeline(
    ColumnTransformer([("numbers", StandardScaler(), numeric)]), LogisticRegression(max_iter=1000))
stacked = StackingClassifier([("text", text_model), ("numbers", numeric_model)],
                             final_estimator=LogisticRegression(max_iter=1000),
                             cv=2 if args.quick else 3)
scores = {}
for name, model in [("numbers only", numeric_model), ("text only", text_model),
                    ("text + numbers", stacked)]:
    scores[name] = model.fit(train, train.category).score(test, test.category)
    print(f"{name}: {scores[name]:.3f}")

# %%
figure, axis = plt.subplots(figsize=(6, 4))
axis.bar(list(scores), list(scores.values()))
axis.set(ylabel="test accuracy", title="one pipeline, text and numeric columns")
save(figure, args.out)
