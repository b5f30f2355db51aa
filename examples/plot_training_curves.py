"""
Training and validation accuracy per epoch, with a skorch callback
==================================================================

The training loop is skorch's, so any skorch callback plugs in through
``callbacks``: here ``EpochScoring`` scores the training texts after every
epoch (skorch already scores the validation split as ``valid_acc``), and
both curves are read back from ``history_``. ``Checkpoint`` or skorch's
TensorBoard, MLflow and W&B loggers go in the same list. Each fit clones
the callbacks, so the objects passed here stay unused.

Accuracy during training needs a head that trains, so the example asks
for the cross-entropy objective (below 32 texts per class the default,
``objective="auto"``, trains contrastively and sets the head at the end).

Run: ``python examples/plot_training_curves.py [--quick] [--data DIR]``
"""

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from _common import load_banking77, parse_args, save
from skorch.callbacks import EpochScoring

from sklearn_tsft import TokenSparseClassifier

args = parse_args(__doc__.strip().splitlines()[0], "training_curves.png")
train, test = load_banking77(args)

train_accuracy = EpochScoring("accuracy", on_train=True, name="train_acc",
                              lower_is_better=False)
clf = TokenSparseClassifier(args.model, objective="cross_entropy",
                            max_epochs=3 if args.quick else 8, validation_fraction=0.2,
                            callbacks=[train_accuracy], random_state=args.seed)
clf.fit(train.text, train.category)
print(f"test accuracy {clf.score(test.text, test.category):.3f}")

# %%
# One row of ``history_`` per epoch; the callback's column sits beside skorch's.
epochs = clf.history_[:, "epoch"]
figure, axis = plt.subplots(figsize=(6, 4))
axis.plot(epochs, clf.history_[:, "train_acc"], marker="o", label="training texts")
axis.plot(epochs, clf.history_[:, "valid_acc"], marker="o", label="validation split")
axis.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02))
axis.legend()
save(figure, args.out)
