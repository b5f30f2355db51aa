"""The model card (``README.md``) that ``save`` and ``export_pretrained`` write.

In the form the Hugging Face Hub shows: a YAML header (library, pipeline
tag, base model) and a short page of facts read from the fitted estimator
(backbone, strategy, trained fraction, labels, training texts, validation
scores), with how to load the directory. A user may edit it: ``load``
does not check it against the save's checksums.
"""

import numpy as np

from ._version import __version__
from .backbone import DEFAULT_MODEL_NAME

MODEL_CARD = "README.md"
# Longer label lists are cut in the card (all labels are in the config).
LABELS_SHOWN = 50

SAVED_USAGE = """```python
from sklearn_tsft import TokenSparseClassifier

clf = TokenSparseClassifier.load("{path}")
clf.predict(["a text to classify"])
```"""

EXPORTED_USAGE = """```python
from transformers import pipeline

classifier = pipeline("text-classification", model="{path}", trust_remote_code=True)
classifier(["a text to classify"])
```

`trust_remote_code=True` runs the directory's `modeling_tsft.py` (the
mean-pooling head, torch and transformers only); in a process that has
imported `sklearn_tsft` it is not needed."""


def model_card(estimator, path, exported=False):
    """The card of a fitted estimator written to ``path``.

    Parameters
    ----------
    estimator : TokenSparseClassifier
        Fitted.
    path : pathlib.Path
        The directory written; its name goes into the loading snippet.
    exported : bool, default=False
        The card of an ``export_pretrained`` directory (loaded with
        transformers) instead of a ``save`` directory.

    Returns
    -------
    text : str
    """
    header = ["---", "library_name: " + ("transformers" if exported else "sklearn-tsft"),
              "pipeline_tag: text-classification",
              "tags:", "- sklearn-tsft", f"- {estimator.strategy}"]
    if _is_hub_id(estimator.backbone_name_):
        header.append(f"base_model: {estimator.backbone_name_}")
    header.append("---")
    facts = [
        ("backbone", f"`{estimator.backbone_name_}`"),
        ("strategy", f"`{estimator.strategy}` ({estimator.objective_.replace('_', '-')} "
                     "objective)"),
        ("trained fraction of the backbone", f"{estimator.trainable_fraction_:.2%}"),
        ("task", "multi-label" if estimator.multilabel_ else "one label per text"),
        ("labels", str(estimator.n_classes_)),
        ("training texts", str(_n_training_texts(estimator.history_))),
        *_validation_scores(estimator.history_, estimator.objective_),
        ("sklearn-tsft", __version__),
    ]
    usage = EXPORTED_USAGE if exported else SAVED_USAGE
    return "\n".join([
        *header, "",
        f"# {path.name}", "",
        "A text classifier finetuned with "
        "[sklearn-tsft](https://pypi.org/project/sklearn-tsft/) (token-driven sparse "
        "finetuning of a small transformer, scikit-learn API).", "",
        "| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in facts), "",
        "## Labels", "", _label_list(estimator.classes_), "",
        "## How to load it", "", usage.format(path=path.name), "",
    ])


def _is_hub_id(name):
    return name == DEFAULT_MODEL_NAME or name.count("/") == 1


def _n_training_texts(history):
    # skorch records every batch's size; one epoch saw each training text once.
    return sum(batch["train_batch_size"] for batch in history[0]["batches"]
               if "train_batch_size" in batch)


def _validation_scores(history, objective):
    # The loss is the one trained: under the contrastive objective it is not
    # a cross-entropy and is not comparable with one.
    names = {"valid_loss": f"{objective.replace('_', '-')} loss", "valid_acc": "accuracy"}
    last = history[-1]
    return [(f"validation {shown} (last epoch)", f"{last[name]:.4f}")
            for name, shown in names.items() if name in last]


def _label_list(classes):
    labels = [str(label.item() if isinstance(label, np.generic) else label)
              for label in classes]
    shown = ", ".join(f"`{label}`" for label in labels[:LABELS_SHOWN])
    more = len(labels) - LABELS_SHOWN
    return shown + (f" and {more} more (all in the saved config)" if more > 0 else "")
