"""TokenSparseClassifier: a scikit-learn classifier that finetunes a transformer."""

import itertools
import numbers
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from . import hf_export, onnx_export, persistence
from ._data import PadCollator, TokenizedTexts, per_class_sample
from ._device import (
    PRECISIONS,
    free_accelerator_memory,
    inference_device,
    resolve_device,
    resolve_precision,
    seeded,
)
from ._params import (
    NONE,
    AnyOf,
    Boolean,
    Checked,
    InstanceOf,
    Interval,
    Options,
    check_parameters,
)
from ._validation import check_label_matrix, check_labels, check_texts, is_label_matrix
from .backbone import (
    POOLINGS,
    LogitsAndEmbedding,
    TextClassifierModule,
    check_max_length,
    check_vocabulary,
    default_pooling,
    load_backbone,
    resolve_model,
)
from .calibration import fit_temperature
from .contrastive import OBJECTIVES, resolve_objective, switch_off_dropout
from .exceptions import FitInterrupted
from .head_init import PROTOTYPE_TEXTS, start_at_logistic_regression, start_at_prototypes
from .long_texts import CHUNK_POOLINGS, long_text_policy
from .model_card import model_card
from .out_of_scope import GAUSSIAN_TEXTS, OOS_SCORES, ClassGaussians, logit_scores
from .progress import fit_progress
from .strategies import STRATEGIES, check_strategy_name, make_strategy, strategy_constraints
from .thresholds import label_indicators, tune_label_thresholds
from .training import (
    NetConfig,
    build_net,
    check_callbacks,
    fresh_callbacks,
    make_accelerator,
    resolve_max_epochs,
    training_steps,
)


def _check_unknown_label_type(value):
    if value is not None and not isinstance(value, (str, numbers.Number)):
        raise ValueError(
            f"unknown_label must be None, a string or a number, got {type(value).__name__}.")


def _label_names(y, n_labels):
    """A DataFrame's column names, else the column indices: a multi-label ``classes_``."""
    names = list(getattr(y, "columns", range(n_labels)))
    if len(set(names)) != n_labels:
        raise ValueError(f"the label columns of y must have distinct names, got {names}.")
    return np.array(names)


def _check_class_weight_values(class_weight):
    if not isinstance(class_weight, dict):
        return
    for label, weight in class_weight.items():
        if not (isinstance(weight, numbers.Real) and not isinstance(weight, (bool, np.bool_))
                and np.isfinite(weight) and weight >= 0):
            raise ValueError(
                f"class_weight[{label!r}] = {weight!r}: every class weight must be a finite "
                "number >= 0 (no NaN or infinite weight, none negative; 0 ignores the "
                "class). Fix that entry, or use class_weight='balanced'.")


# Occluded copies of a text predicted at once by explain: memory stays
# bounded whatever the text's length.
OCCLUSION_BATCH = 256
# average=True: the share of the optimizer steps before the averaged ones.
# After token_sparse's depth schedule narrows (at most a quarter of the steps), so
# the averaged parameters stay the same.
AVERAGED_SHARE = 1 / 2


def _scaled_to_max(weights):
    peak = weights.max()
    if peak <= 0:
        raise ValueError("the weights of the texts (sample_weight times class_weight) are all "
                         "zero: at least one text must count.")
    return weights / peak


@dataclass
class _TrainingData:
    """The checked inputs of one fit, split into training and held-out indices."""

    texts: list
    classes: np.ndarray
    targets: np.ndarray  # class indices, or the 0/1 label matrix
    strata: np.ndarray  # one class per text (for multi-label data, its label set)
    multilabel: bool
    weights: np.ndarray
    seed: int
    train_idx: np.ndarray
    valid_idx: np.ndarray | None

    @property
    def train_texts(self):
        return [self.texts[i] for i in self.train_idx]

    @property
    def train_strata(self):
        return self.strata[self.train_idx]


@dataclass
class _Machine:
    device: str
    precision: str
    accelerator: object


@dataclass
class _BuiltModel:
    """The module a fit trains, before training: its tokenizer, head and datasets."""

    tokenizer: object
    policy: object  # long_texts.Truncate or Chunk
    pooling: str
    module: TextClassifierModule
    head: torch.nn.Module  # the head to put back after training (contrastive swaps it)
    trained: torch.nn.Module | None  # the strategy's training view of the module
    objective: str
    train_data: object
    valid_data: object
    n_backbone: int
    n_head: int
    n_trainable: int


@dataclass
class _Statistics:
    """What fit measures after training (see _post_fit_statistics)."""

    gaussians: ClassGaussians | None = None
    temperature: float = 1.0
    unknown_threshold: float | None = None
    label_thresholds: np.ndarray | None = None


class TokenSparseClassifier(ClassNamePrefixFeaturesOutMixin, ClassifierMixin, TransformerMixin,
                            BaseEstimator):
    """Text classifier that finetunes a small transformer (scikit-learn API).

    ``fit`` takes raw strings and labels (strings, numbers or bools).
    Inside, a pretrained encoder (by default the packaged
    ``all-MiniLM-L6-v2``, loaded offline) gets a mean-pooling linear head,
    and the ``strategy`` decides which of its parameters are trained.

    Parameters
    ----------
    model : str or os.PathLike, default="default"
        ``"default"`` for the packaged all-MiniLM-L6-v2, the path of a local
        directory that transformers can load (never contacts the Hub), or a
        Hugging Face Hub id.
    strategy : {"token_sparse", "full", "head", "bitfit", "layers", "lora", \
            "prefix"}, default="token_sparse"
        What is trained. ``"token_sparse"``: the seed paper's token-driven
        sparse finetuning (rows of the backbone's weights chosen from the
        task's tokens, trained as deltas and merged; see
        ``docs/method.md``). ``"full"``: every parameter (end-to-end
        finetuning). ``"head"``: only the classification head on a frozen
        backbone. ``"bitfit"``: only the backbone's biases. ``"layers"``:
        only the top ``n_layers`` transformer blocks. ``"lora"``: LoRA
        adapters through ``peft`` (extra ``sklearn-tsft[peft]``), merged into
        the dense weights after fit. ``"prefix"``: prefix tuning through
        ``peft`` (trained key/value vectors in every block's attention; kept
        as peft's wrapper, since a prefix cannot be merged).
        Parameters of other strategies are ignored.
    sparsity : float in (0, 1], default=0.05
        ``token_sparse`` only: the fraction of backbone weights that may
        change. The main knob; useful values lie between 0.002 and 0.1.
    n_task_tokens : int, default=200
        ``token_sparse`` only: how many task token groups (words most tied
        to the labels, by chi-square) guide the selection.
    adaptive_tokenization : bool, default=True
        ``token_sparse`` only: task words that the tokenizer splits into
        several pieces get one token of their own in a reserved vocabulary
        slot (BERT's ``[unusedN]``), initialised to the mean of the pieces'
        embeddings (a tokenizer without such slots, BPE or SentencePiece:
        spare embedding rows beyond its vocabulary). No parameter is added.
        With neither, a warning is given and the words keep their pieces.
    n_layers : int, None or "auto", default="auto"
        Read by two strategies, with a meaning of its own in each.
        ``layers``: the top ``n_layers`` blocks train (``"auto"``: the top
        third, at least one; ``None``: all blocks; the embeddings stay
        frozen). ``token_sparse``: where rows are chosen. An int: in the
        top ``n_layers`` transformer blocks; the frozen blocks below are
        run once per text and their outputs reused across epochs, which is
        where most of the training time is saved. ``None``: all blocks,
        and the task tokens' embedding rows train too. ``"auto"`` (the
        depth schedule): all blocks and the task tokens' embedding rows for
        the first 1.5 / n_blocks of the optimizer steps, at most a quarter
        (a quarter on 6 blocks, an eighth on 12), then the top sixth of the
        blocks only, at least one (the rows below are merged, frozen and
        cached). The schedule is off, with a warning, when
        ``early_stopping`` is set or under Accelerate, and without one when
        the selection chose no row in those top blocks (a small budget on
        a small backbone): all blocks train throughout.
    lora_r, lora_alpha, lora_dropout : int, float, float, default=8, 16, 0.1
        ``lora`` only: rank, scaling and dropout of the LoRA adapters.
    lora_target_modules : list of str or None, default=None
        ``lora`` only: names of the modules that get adapters; ``None``
        takes peft's default for the architecture.
    num_virtual_tokens : int, default=20
        ``prefix`` only: length of the trained prefix.
    pooling : {"auto", "mean", "last"}, default="auto"
        How a text's token states become the one vector the head
        classifies: their mean, or the state of the last token. ``"auto"``
        takes the last token for decoder LMs (GPT-2, Llama, Qwen2, ...),
        whose causal attention lets only it see the whole text, and the
        mean for encoders.
    head_init : {"random", "prototypes"}, default="random"
        Where the linear head starts. ``"random"``: PyTorch's default
        initialisation. ``"prototypes"``: at the nearest-class-mean
        classifier of the pretrained backbone's pooled embeddings (up to
        32 training texts per class, one extra forward pass over them),
        scaled to the leave-one-out cross-entropy's best. It helps few-shot
        data whose classes the pretrained embeddings already separate
        (sms_spam), and fails where they do not (rotten_tomatoes: the scale
        and the backbone's gradients collapse); see ``docs/method.md``.
        Multi-label fits always start at random. Only for the cross-entropy
        objective.
    objective : {"auto", "cross_entropy", "contrastive"}, default="auto"
        What the backbone is trained on. ``"cross_entropy"``: the
        classification loss through the linear head. ``"contrastive"``:
        a supervised contrastive loss on the pooled embeddings (texts of a
        class pulled together, of other classes apart, within each batch),
        after which the head is set to a logistic regression on the adapted
        embeddings of the training texts, as SetFit does (the backbone
        trains with its dropout off, measured better on the packaged
        MiniLM, see ``docs/method.md``); it suits few texts
        per class, where cross-entropy through a head soon reaches zero on
        the training texts. ``"auto"``: contrastive when the median class
        has at most 32 training texts, else cross-entropy (chosen by
        measurement, see ``docs/method.md``); always cross-entropy for
        multi-label data, under Accelerate, with ``strategy="head"`` and
        with ``long_text="chunk"`` and ``chunk_pooling="max"`` (the head is
        fitted on each text's combined embedding, the same as combining
        logits only for the mean), which refuse ``"contrastive"``.
    max_length : int, default=128
        Texts are truncated to this many tokens. Texts that run past it
        may gain from reading more, up to the backbone's own limit (the
        packaged MiniLM's ``max_seq_length`` is 256, what SetFit reads)
        at about twice the fit time (``docs/user_guide.md``, "Long
        texts").
    long_text : {"truncate", "chunk"}, default="truncate"
        What happens to a text longer than ``max_length`` tokens:
        ``"truncate"`` keeps its beginning; ``"chunk"`` splits it into
        overlapping windows of ``max_length`` tokens, runs each through the
        model and combines their logits (``chunk_pooling``), in training as
        in prediction.
    stride : int, default=32
        ``chunk`` only: tokens shared by consecutive windows; below
        ``max_length - 2``.
    chunk_pooling : {"mean", "max"}, default="mean"
        ``chunk`` only: how a text's window logits are combined. ``"max"``
        suits labels that one passage decides.
    batch_size : int, default=32
        Texts per training and prediction batch (with ``chunk``, all the
        windows of those texts).
    max_epochs : int or "auto", default="auto"
        Passes over the training data. ``"auto"``: 3, or as many as 100
        optimizer steps need when the data are small (about 10 texts per
        class), so that few-shot fits are not starved of steps; e.g. 7
        passes over 500 texts at ``batch_size=32``, 100 over 20.
    lr : float or "auto", default="auto"
        Peak learning rate of the backbone's trainable parameters (AdamW).
        ``"auto"`` takes the strategy's own default: 2e-4 for ``"full"``
        and ``"layers"``, 1e-3 for ``"token_sparse"``, whose deltas start at
        zero, on encoders up to 384 wide and 1e-3 x sqrt(384 / width) on
        wider ones (7.1e-4 on a 768-wide base encoder; see
        ``docs/method.md``), 5e-3 for ``"bitfit"``, whose biases
        are few, 1e-3 for ``"lora"`` and 1e-2 for ``"prefix"``, as in peft's
        examples.
    head_lr : float, default=1e-2
        Peak learning rate of the freshly initialised classification head,
        which needs a larger step than pretrained weights.
    weight_decay : float, default=0.01
        AdamW weight decay, applied to trainable parameters only.
    warmup_ratio : float, default=0.1
        Fraction of the training steps over which the learning rate rises
        linearly from 0; it then decays linearly to 0.
    average : bool, default=False
        End with the mean of the trained weights (deltas, adapters or
        blocks, and the head) over the second half of the optimizer steps
        instead of their last values (stochastic weight averaging, as
        ``SGDClassifier(average=True)`` averages its weights). Not with
        ``early_stopping``, which keeps its best epoch instead.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, as in scikit-learn: a dict maps
        labels to weights, ``"balanced"`` weights inversely to class
        frequency.
    validation_fraction : float or None, default=None
        Fraction of the training texts held out (stratified) and scored
        after each epoch (``valid_loss``, ``valid_acc`` in ``history_``).
    early_stopping : int or None, default=None
        Stop when ``valid_loss`` has not improved for this many epochs and
        restore the best epoch's weights. Needs ``validation_fraction``.
    calibrate : bool, default=False
        Fit a temperature on the held-out split after training and divide
        the logits by it (temperature scaling), so that ``predict_proba``
        is better calibrated; predictions do not change. Needs
        ``validation_fraction``.
    threshold : float in (0, 1) or "auto", default=0.5
        Multi-label only: ``predict`` marks a label when its probability is
        at least this. ``"auto"`` tunes one threshold per label on the
        validation split (the one of best F1 for that label, among 0.02,
        0.04, ..., 0.98; ``label_thresholds_``), and so needs
        ``validation_fraction``.
    at_least_one_label : bool, default=False
        Multi-label only: a text whose labels all fall below their
        threshold gets its most probable label instead of none.
    oos_score : {"mahalanobis", "energy", "max_proba"}, default="mahalanobis"
        What :meth:`score_samples` measures, higher for texts like the
        training classes: ``"mahalanobis"``, minus the squared Mahalanobis
        distance of the pooled embedding to the nearest class mean (class
        means and a shared covariance fitted at the end of ``fit`` on up
        to 100 training texts per class, one extra forward pass over
        them; chosen by measurement, see ``docs/benchmarks.md``);
        ``"energy"``, the log-sum-exp of the logits; ``"max_proba"``, the
        largest class probability. The two logit scores can also be
        chosen after fitting.
    unknown_label : object or None, default=None
        When set, ``predict`` answers this label for texts whose
        :meth:`score_samples` falls below ``unknown_threshold_`` (out of
        scope: none of the trained classes); ``predict_proba`` and
        ``classes_`` do not change. Needs ``validation_fraction``: the
        threshold is set on the held-out split. One label per text only.
    unknown_rate : float in (0, 1), default=0.05
        With ``unknown_label``: the share of held-out (in-scope) texts that
        the threshold answers as unknown.
    device : str, default="auto"
        Torch device; ``"auto"`` uses CUDA when available, else the CPU.
    accelerate : bool, default=False
        Train under Hugging Face Accelerate: started with ``accelerate
        launch`` on several GPUs, every process trains on its share of each
        batch (data parallel; only trainable parameters are synchronised).
        The device is then Accelerate's; leave ``device="auto"``. Needs
        ``pip install 'sklearn-tsft[accelerate]'``. See ``docs/scaling.md``.
    precision : {"auto", "fp32", "bf16"}, default="auto"
        ``"auto"`` trains with bf16 autocast on GPUs that support it and in
        float32 elsewhere.
    callbacks : list of skorch callbacks or (name, callback) pairs, default=None
        Added to the training loop after its own (``EpochScoring``,
        ``Checkpoint``, skorch's TensorBoard, MLflow or W&B loggers, ...);
        each fit uses fresh copies (``sklearn.base.clone``), so the objects
        passed stay as they were and grid-search folds do not share state.
        What they record lands in ``history_``. Under the contrastive
        objective the module outputs embeddings while it trains, so a
        callback that scores predictions needs ``objective="cross_entropy"``.
        Not saved by :meth:`save` (a loaded model has ``callbacks=None``).
    random_state : int, RandomState instance or None, default=None
        Seeds the head's initialisation, dropout, the batch order, the
        validation split and the strategies' sampling. With an int, a fit on
        the CPU is repeatable. The caller's global torch RNG is left as it was.
    verbose : int, default=0
        0 is silent. 1 shows one progress bar for the whole fit (on stderr:
        its phase, then the optimizer steps of all epochs with the fit's
        ETA and the last epoch's losses) and a bar over the batches of each
        prediction; 2 adds skorch's table of every epoch (on stdout) and
        transformers' own loading reports. Colour codes only go to a terminal.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``fit``, sorted, in their original type; for a
        multi-label ``y``, its column names when it is a DataFrame, else the
        column indices ``0 .. n_labels - 1``.
    n_classes_ : int
        Number of classes (of labels, for multi-label data).
    multilabel_ : bool
        Whether ``y`` was a multi-label indicator matrix.
    history_ : skorch.History
        One entry per epoch (``train_loss``, ``valid_loss``, ``valid_acc``,
        ``dur``, and ``cuda_max_memory_mb`` on a GPU), with per-batch
        entries under ``"batches"``.
    backbone_name_ : str
        The backbone's name: the default's Hub id, a local directory's own
        name, or the Hub id given; never a machine path (``save`` records
        it, and an absolute ``model`` path by its directory's name too).
    pooling_ : {"mean", "last"}
        The pooling used (``pooling`` with "auto" resolved).
    objective_ : {"cross_entropy", "contrastive"}
        The objective trained (``objective`` with "auto" resolved).
    n_trainable_params_ : int
        Number of scalar parameters the optimizer updated, head included.
    trainable_fraction_ : float
        Parameters the optimizer updated outside the head (backbone
        weights, token_sparse deltas or LoRA adapters), as a fraction of all
        backbone parameters. Same definition for every strategy.
    module_ : TextClassifierModule
        The fitted torch module (on the CPU between calls).
    temperature_ : float
        The logits are divided by it: fitted when ``calibrate=True``, else 1.
    unknown_threshold_ : float or None
        With ``unknown_label``: texts whose :meth:`score_samples` is below
        it are predicted as ``unknown_label``; else None. It is on the
        scale of the ``oos_score`` of the fit (``unknown_score_``).
    unknown_score_ : str or None
        The ``oos_score`` the threshold was set with.
    label_thresholds_ : ndarray of shape (n_classes,) or None
        With ``threshold="auto"`` (multi-label): each label's tuned
        threshold; else None.
    embedding_means_ : ndarray of shape (n_classes, hidden_size) or None
        With ``oos_score="mahalanobis"`` at fit time: the mean pooled
        embedding of each class's training texts; else None.
    embedding_precision_ : ndarray of shape (hidden_size, hidden_size) or None
        With it: the inverse of the within-class covariance of those
        embeddings (Ledoit-Wolf shrinkage); else None.
    tokenizer_ : TextTokenizer
        The fit's tokenizer (task words in their slots) and ``max_length``,
        applied to texts in ``predict``.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : a linear model on TF-IDF
        features, the classic baseline to compare against.

    Examples
    --------
    >>> from sklearn_tsft import TokenSparseClassifier
    >>> texts = ["my card has not arrived", "I want a refund"] * 8
    >>> labels = ["card", "refund"] * 8
    >>> clf = TokenSparseClassifier(max_epochs=1, random_state=0)
    >>> clf.fit(texts, labels).predict(["where is my card"]).shape
    (1,)
    """

    def __init__(
        self,
        model="default",
        *,
        strategy="token_sparse",
        sparsity=0.05,
        n_task_tokens=200,
        adaptive_tokenization=True,
        n_layers="auto",
        lora_r=8,
        lora_alpha=16,
        lora_dropout=0.1,
        lora_target_modules=None,
        num_virtual_tokens=20,
        pooling="auto",
        head_init="random",
        objective="auto",
        max_length=128,
        long_text="truncate",
        stride=32,
        chunk_pooling="mean",
        batch_size=32,
        max_epochs="auto",
        lr="auto",
        head_lr=1e-2,
        weight_decay=0.01,
        warmup_ratio=0.1,
        average=False,
        class_weight=None,
        validation_fraction=None,
        early_stopping=None,
        calibrate=False,
        threshold=0.5,
        at_least_one_label=False,
        oos_score="mahalanobis",
        unknown_label=None,
        unknown_rate=0.05,
        device="auto",
        accelerate=False,
        precision="auto",
        callbacks=None,
        random_state=None,
        verbose=0,
    ):
        self.model = model
        self.strategy = strategy
        self.sparsity = sparsity
        self.n_task_tokens = n_task_tokens
        self.adaptive_tokenization = adaptive_tokenization
        self.n_layers = n_layers
        self.lora_r = lora_r
        self.lora_alpha = lora_alpha
        self.lora_dropout = lora_dropout
        self.lora_target_modules = lora_target_modules
        self.num_virtual_tokens = num_virtual_tokens
        self.pooling = pooling
        self.head_init = head_init
        self.objective = objective
        self.max_length = max_length
        self.long_text = long_text
        self.stride = stride
        self.chunk_pooling = chunk_pooling
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.lr = lr
        self.head_lr = head_lr
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.average = average
        self.class_weight = class_weight
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.calibrate = calibrate
        self.threshold = threshold
        self.at_least_one_label = at_least_one_label
        self.oos_score = oos_score
        self.unknown_label = unknown_label
        self.unknown_rate = unknown_rate
        self.device = device
        self.accelerate = accelerate
        self.precision = precision
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        tags.classifier_tags.multi_label = True
        # transform (the embeddings) takes texts: there is no input dtype to keep.
        tags.transformer_tags.preserves_dtype = []
        return tags

    _parameter_constraints = {
        "model": Checked(resolve_model),
        "strategy": Checked(check_strategy_name),
        # sparsity, n_layers, lora_r, ...: declared with the strategies that read them.
        **strategy_constraints(),
        "pooling": Options("auto", *POOLINGS),
        "head_init": Options("random", "prototypes"),
        "objective": Options("auto", *OBJECTIVES),
        "max_length": Interval(numbers.Integral, 2, None),
        "long_text": Options("truncate", "chunk",
                             message="long_text must be 'truncate' or 'chunk', got {value!r}."),
        "stride": Interval(numbers.Integral, 0, None),
        "chunk_pooling": Options(*CHUNK_POOLINGS),
        "batch_size": Interval(numbers.Integral, 1, None),
        "max_epochs": AnyOf(Options("auto"), Interval(numbers.Integral, 1, None),
                            description="'auto' or a positive int"),
        "lr": AnyOf(Options("auto"), Interval(numbers.Real, 0, None, closed="neither"),
                    description="'auto' or a positive float"),
        "head_lr": Interval(numbers.Real, 0, None, closed="neither"),
        "weight_decay": Interval(numbers.Real, 0, None),
        "warmup_ratio": Interval(numbers.Real, 0, 1),
        "average": Boolean(),
        "class_weight": AnyOf(NONE, Options("balanced"), InstanceOf(dict, description="a dict"),
                              description="None, 'balanced' or a dict of label -> weight"),
        "validation_fraction": AnyOf(NONE, Interval(numbers.Real, 0, 1, closed="neither"),
                                     description="None or a float in (0, 1)"),
        "early_stopping": AnyOf(NONE, Interval(numbers.Integral, 1, None),
                                description="None or a positive int"),
        "calibrate": Boolean(),
        "threshold": AnyOf(Options("auto"), Interval(numbers.Real, 0, 1, closed="neither"),
                           description="'auto' or a float in (0, 1)"),
        "at_least_one_label": Boolean(),
        "oos_score": Options(*OOS_SCORES),
        "unknown_label": Checked(_check_unknown_label_type),
        "unknown_rate": Interval(numbers.Real, 0, 1, closed="neither"),
        "device": Checked(resolve_device),
        "accelerate": Boolean(),
        "precision": Options(*PRECISIONS, message="{name}={value!r} is not one of {values}."),
        "callbacks": Checked(check_callbacks),
        "random_state": AnyOf(NONE, Interval(numbers.Integral, 0, 2**32 - 1),
                              InstanceOf(np.random.RandomState, description="a RandomState"),
                              description="None, an int or a numpy RandomState"),
        "verbose": Interval(numbers.Integral, 0, None),
    }

    # Checked against this machine (a directory that exists, a device it
    # has); a saved model is checked without them, since it carries its
    # backbone and chooses its device where it is loaded.
    _machine_parameters = ("model", "device")

    def _validate_params(self, machine=True):
        """Check every parameter, then the rules that tie several together.

        With ``machine=False``, ``model`` and ``device`` are only checked to
        be strings: what ``save`` and ``load`` need.
        """
        params = self.get_params(deep=False)
        if not machine:
            for name in self._machine_parameters:
                if not isinstance(params.pop(name), (str, os.PathLike)):
                    raise TypeError(f"{name} must be a string, got {getattr(self, name)!r}.")
        check_parameters(self._parameter_constraints, params)
        _check_class_weight_values(self.class_weight)
        if self.long_text == "chunk" and self.stride > self.max_length - 3:
            # Two special tokens, the shared ones, and at least one new token.
            raise ValueError(
                f"stride={self.stride} leaves no new tokens in a window of "
                f"max_length={self.max_length}: use a stride of at most "
                f"max_length - 3 = {self.max_length - 3}, or a larger max_length."
            )
        needs_validation = [
            (self.early_stopping is not None,
             "early_stopping needs held-out data: set validation_fraction (e.g. 0.1) as "
             "well, or early_stopping=None."),
            (self.calibrate,
             "calibrate=True fits the temperature on held-out data: set validation_fraction "
             "(e.g. 0.1) as well, or calibrate=False."),
            (self.unknown_label is not None,
             "unknown_label sets its threshold on held-out in-scope texts: set "
             "validation_fraction (e.g. 0.1) as well, or unknown_label=None."),
            (self.threshold == "auto",
             "threshold='auto' tunes each label's threshold on held-out texts: set "
             "validation_fraction (e.g. 0.2) as well, or a number such as threshold=0.5."),
        ]
        for used, message in needs_validation:
            if used and self.validation_fraction is None:
                raise ValueError(message)
        reason = self._why_not_contrastive()
        if self.objective == "contrastive" and reason:
            raise ValueError(reason)
        if self.accelerate and self.device != "auto":
            raise ValueError(
                f"accelerate=True takes the device from Accelerate; leave device='auto' "
                f"(got {self.device!r}) and choose devices with `accelerate launch` or "
                "CUDA_VISIBLE_DEVICES."
            )

    def _sample_weights(self, sample_weight, labels):
        weights = _check_sample_weight(sample_weight, np.empty(len(labels)), dtype=np.float64,
                                       ensure_non_negative=True)
        if not np.isfinite(weights).all():
            raise ValueError(
                "sample_weight holds a NaN or infinite weight; give every text a finite weight.")
        # Scaled to a largest weight of 1 before anything is multiplied or
        # summed, so that no finite weights overflow (1e308 is as good as 1).
        weights = _scaled_to_max(weights)
        if self.class_weight is not None:
            weights = _scaled_to_max(weights * compute_sample_weight(self.class_weight, labels))
        # Mean 1, so weighting changes the balance of the loss, not its scale.
        return (weights / weights.mean()).astype(np.float32)

    def _split(self, n_texts, encoded, seed):
        indices = np.arange(n_texts)
        if self.validation_fraction is None:
            return indices, None
        stratify = encoded if np.bincount(encoded).min() >= 2 else None
        try:
            return train_test_split(
                indices,
                test_size=self.validation_fraction,
                stratify=stratify,
                random_state=seed,
            )
        except ValueError as exc:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} cannot split "
                f"{n_texts} texts of {encoded.max() + 1} classes ({exc}). Use more "
                "data, a larger fraction, or validation_fraction=None."
            ) from exc

    def _check_unknown_label_is_new(self, classes, multilabel):
        if self.unknown_label is None:
            return
        if multilabel:
            raise ValueError(
                "unknown_label is for one label per text; a multi-label model already "
                "answers 'none' by marking no label. Set unknown_label=None.")
        if self.unknown_label in set(classes.tolist()):
            raise ValueError(
                f"unknown_label={self.unknown_label!r} is one of the training labels; choose a "
                "label that no training text has.")

    def _check_targets(self, y, n_texts):
        """Classes, training targets, strata and the multi-label flag.

        The strata give one class per text (for multi-label data, its label
        set), for the validation split and the strategies' selection.
        """
        if not is_label_matrix(y):
            classes, encoded = check_labels(y, n_texts)
            return classes, encoded, encoded, False
        indicator, label_sets = check_label_matrix(y, n_texts)
        if self.objective == "contrastive":
            raise ValueError(
                "objective='contrastive' is for one label per text; with a multi-label y set "
                "objective='auto' or 'cross_entropy'.")
        for name in ("class_weight", "calibrate"):
            if getattr(self, name):
                raise ValueError(
                    f"{name} is for one label per text; with a multi-label y set "
                    f"{name}={'None' if name == 'class_weight' else 'False'} (use "
                    "sample_weight to weight texts)."
                )
        return _label_names(y, indicator.shape[1]), indicator, label_sets, True

    def fit(self, X, y, sample_weight=None):
        """Finetune the backbone on labelled texts.

        Parameters
        ----------
        X : sequence of str of length n_samples
            Raw texts: a list, tuple, numpy array or pandas Series of
            strings, or a single-column 2-D array or DataFrame.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Labels (strings, numbers or bools, of one type), at least two
            distinct values; or,
            for multi-label classification, a 0/1 indicator matrix (as
            ``MultiLabelBinarizer`` gives), trained with a sigmoid per label.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each text in the loss (combined with
            ``class_weight``). Only the relative sizes matter.

        Returns
        -------
        self : TokenSparseClassifier
            The fitted estimator.
        """
        # Bad parameters leave a previous fit as it was; past them, a failure
        # must not leave an old fit behind that looks like the new one.
        self._validate_params()
        self._clear_fitted_attributes()
        with fit_progress(self.verbose > 0) as progress:
            data = self._training_data(X, y, sample_weight)
            strategy = make_strategy(self.strategy, self.get_params(deep=False))
            machine = self._machine()
            tokenizer, encoder, backbone_name = load_backbone(self.model, self.verbose)
            check_max_length(self.max_length, encoder, "is set")
            check_vocabulary(tokenizer, encoder)
            objective = resolve_objective(
                self.objective, data.train_strata,
                possible=not data.multilabel and self._why_not_contrastive() is None)
            with seeded(data.seed, machine.device):
                built = self._build_module(strategy, tokenizer, encoder, data, objective,
                                           machine, progress)
                history, module, train_embeddings = self._train(strategy, built, data, machine,
                                                                progress)
                progress.phase("statistics")
                if built.objective == "contrastive":
                    start_at_logistic_regression(module.head, train_embeddings,
                                                 data.train_strata, data.weights[data.train_idx])
            statistics = self._post_fit_statistics(module, built.tokenizer, data, machine,
                                                   train_embeddings)
            self._set_fitted_attributes(strategy, built, data, history, module, backbone_name,
                                        statistics)
        return self

    # The phases of fit, in order.

    def _training_data(self, X, y, sample_weight):
        """The checked texts and targets, their weights, the seed and the split."""
        texts = check_texts(X)
        classes, targets, strata, multilabel = self._check_targets(y, len(texts))
        self._check_unknown_label_is_new(classes, multilabel)
        # class_weight (multiclass only) is keyed by the original labels.
        weights = self._sample_weights(sample_weight, strata if multilabel else classes[strata])
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        train_idx, valid_idx = self._split(len(texts), strata, seed)
        return _TrainingData(texts, classes, targets, strata, multilabel, weights, seed,
                             train_idx, valid_idx)

    def _machine(self):
        accelerator = make_accelerator() if self.accelerate else None
        device = resolve_device(self.device) if accelerator is None else str(accelerator.device)
        return _Machine(device, resolve_precision(self.precision, device), accelerator)

    def _build_module(self, strategy, tokenizer, encoder, data, objective, machine, progress):
        """Task tokens, the module and its head, the datasets, and the strategy's selection."""
        progress.phase("task tokens")
        tokenizer = strategy.build_tokenizer(tokenizer, encoder, data.train_texts,
                                             data.train_strata, self.max_length)
        policy = self._long_text_policy(tokenizer)
        pooling = default_pooling(encoder.config) if self.pooling == "auto" else self.pooling
        module = TextClassifierModule(encoder, len(data.classes), pooling=pooling)
        if (self.head_init == "prototypes" and objective == "cross_entropy"
                and not data.multilabel):
            self._start_head_at_prototypes(module, tokenizer, data, machine.device)
        head = module.head
        n_backbone = sum(p.numel() for p in module.encoder.parameters())
        n_head = sum(p.numel() for p in head.parameters())
        items, first_windows = policy.encode(data.texts)
        train_data = policy.subset(items, data.train_idx, data.targets, data.weights)
        valid_data = None if data.valid_idx is None else policy.subset(
            items, data.valid_idx, data.targets, data.weights)
        # Strategies select on each text's first window, labelled by strata
        # (one class per text: for multi-label data, its label set).
        selection_data = TokenizedTexts([first_windows[i] for i in data.train_idx],
                                        data.train_strata, data.weights[data.train_idx],
                                        data.train_idx)
        progress.phase("selection")
        trained = strategy.prepare(module, selection_data, PadCollator(tokenizer.pad_token_id),
                                   machine.device)
        if objective == "contrastive":
            objective = self._contrastive_unless_nothing_trains(trained)
        if objective == "contrastive":
            # The backbone trains on embeddings; the head is fitted after it.
            module.head = trained.head = torch.nn.Identity()
            switch_off_dropout(module.encoder)
        n_trainable = sum(p.numel() for p in trained.parameters() if p.requires_grad)
        n_trainable += n_head if objective == "contrastive" else 0
        return _BuiltModel(tokenizer, policy, pooling, module, head, trained, objective,
                           train_data, valid_data, n_backbone, n_head, n_trainable)

    def _train(self, strategy, built, data, machine, progress):
        """Train the strategy's parameters.

        Returns the history, the finalized module and, under the contrastive
        objective, the training texts' embeddings (in ``data.train_idx``
        order) for its head; otherwise None.
        """
        max_epochs = resolve_max_epochs(self.max_epochs, len(data.train_idx), self.batch_size)
        n_steps = training_steps(len(data.train_idx), self.batch_size, max_epochs)
        net = build_net(built.trained, self._net_config(strategy, built, data, machine,
                                                        max_epochs, n_steps, progress))
        progress.start_training(n_steps)
        train_embeddings = None
        try:
            net.fit(built.train_data, y=None)
            if built.objective == "contrastive":
                # The training view outputs embeddings (its head is an
                # identity) and still holds its cache of frozen-block states,
                # so this pass runs the upper blocks only.
                train_embeddings = net.forward(built.train_data, training=False).double().numpy()
        except FitInterrupted as exc:
            raise KeyboardInterrupt("fit was interrupted; the estimator is unfitted") from exc
        finally:
            history = net.history
            # The training view (with its cache of frozen-block states) goes;
            # the module it trained is finalized.
            del net
            built.trained = None
            built.module.head = built.head
            module = strategy.finalize(built.module.to("cpu")).eval()
            free_accelerator_memory(machine.device)
        return history, module, train_embeddings

    def _net_config(self, strategy, built, data, machine, max_epochs, n_steps, progress):
        return NetConfig(
            n_train=len(data.train_idx), n_classes=len(data.classes),
            multilabel=data.multilabel, valid_dataset=built.valid_data,
            collate=built.policy.collate,
            backbone_lr=(strategy.learning_rate(built.module.encoder) if self.lr == "auto"
                         else self.lr),
            head_lr=self.head_lr, weight_decay=self.weight_decay,
            warmup_ratio=self.warmup_ratio, batch_size=self.batch_size, max_epochs=max_epochs,
            early_stopping=self.early_stopping, device=machine.device,
            precision=machine.precision, seed=data.seed, verbose=self.verbose,
            chunk_pooling=self.chunk_pooling, accelerator=machine.accelerator,
            strategy_callbacks=self._strategy_callbacks(strategy, n_steps, machine),
            contrastive_classes=data.train_strata if built.objective == "contrastive" else None,
            average_from=self._average_from(n_steps),
            user_callbacks=fresh_callbacks(self.callbacks),
            progress=progress,
        )

    def _strategy_callbacks(self, strategy, n_steps, machine):
        callbacks = strategy.training_callbacks(n_steps)
        # Early stopping restores saved weights by name, and Accelerate wraps
        # the module: a strategy that changes the module mid-training
        # (token_sparse's depth schedule) would break either.
        if callbacks and (self.early_stopping is not None or machine.accelerator is not None):
            cause = "early_stopping is set" if self.early_stopping is not None else (
                "it trains under Accelerate")
            warnings.warn(
                f"n_layers='auto': token_sparse's depth schedule is off because {cause}, so "
                "every block trains throughout (slower than the schedule). Set n_layers=None "
                "to ask for that, or an int to train the top blocks only.",
                UserWarning, stacklevel=5)
            return ()
        return callbacks

    def _post_fit_statistics(self, module, tokenizer, data, machine, train_embeddings=None):
        """What fit measures on the trained model: scope statistics and held-out tunings.

        ``train_embeddings``: those of every training text when fit already
        computed them (the contrastive head's), so they are not computed again.
        """
        n_classes = len(data.classes)
        statistics = _Statistics()
        if self.oos_score == "mahalanobis" and not data.multilabel:
            rows = per_class_sample(data.train_strata, n_classes, GAUSSIAN_TEXTS, data.seed)
            sample = data.train_idx[rows]
            if train_embeddings is not None:
                embeddings = train_embeddings[rows]
            else:
                _, embeddings = self._outputs_at(module, tokenizer, data, sample,
                                                 machine.device)
            statistics.gaussians = ClassGaussians.fit(embeddings, data.strata[sample], n_classes)
        tune_thresholds = data.multilabel and self.threshold == "auto"
        if data.valid_idx is None or not (self.calibrate or self.unknown_label is not None
                                          or tune_thresholds):
            return statistics
        valid_logits, valid_embeddings = self._outputs_at(module, tokenizer, data,
                                                          data.valid_idx, machine.device)
        valid_targets = data.targets[data.valid_idx]
        if self.calibrate:
            statistics.temperature = fit_temperature(valid_logits, valid_targets)
        if self.unknown_label is not None:
            scores = self._scope_scores(valid_logits / statistics.temperature, valid_embeddings,
                                        statistics.gaussians)
            statistics.unknown_threshold = float(np.quantile(scores, self.unknown_rate))
        if tune_thresholds:
            statistics.label_thresholds = tune_label_thresholds(expit(valid_logits),
                                                                valid_targets)
        return statistics

    def _set_fitted_attributes(self, strategy, built, data, history, module, backbone_name,
                               statistics):
        # Every name here is declared in fitted_state.FITTED_ATTRIBUTES.
        for name, value in strategy.fitted_attributes().items():
            setattr(self, name, value)
        self.backbone_name_ = backbone_name
        self.pooling_ = built.pooling
        self.objective_ = built.objective
        self.tokenizer_ = built.tokenizer
        self.history_ = history
        self.n_trainable_params_ = int(built.n_trainable)
        self.trainable_fraction_ = (built.n_trainable - built.n_head) / built.n_backbone
        self.n_classes_ = len(data.classes)
        self.multilabel_ = data.multilabel
        self.module_ = module.eval()
        self.temperature_ = statistics.temperature
        self.unknown_threshold_ = statistics.unknown_threshold
        self.unknown_score_ = None if statistics.unknown_threshold is None else self.oos_score
        self.label_thresholds_ = statistics.label_thresholds
        gaussians = statistics.gaussians
        self.embedding_means_ = None if gaussians is None else gaussians.means
        self.embedding_precision_ = None if gaussians is None else gaussians.precision
        # Set last: check_is_fitted and callers see a complete fit or none.
        self.classes_ = data.classes

    def _why_not_contrastive(self):
        """Why these parameters cannot train the contrastive objective, or None.

        The one list of the parameters that rule it out: ``fit`` then
        resolves "auto" to cross-entropy, and an explicit "contrastive" is
        refused with this message (multi-label data are checked with ``y``).
        """
        if self.accelerate or self.strategy == "head":
            return ("objective='contrastive' trains the backbone's embeddings with a loss "
                    "over the whole batch, which needs a strategy that trains the backbone "
                    "and no Accelerate: use objective='auto' or 'cross_entropy'"
                    + (", or accelerate=False." if self.accelerate else ", or another strategy."))
        if self.long_text == "chunk" and self.chunk_pooling == "max":
            return ("objective='contrastive' fits the head on each text's combined embedding, "
                    "which equals combining the windows' logits only for "
                    "chunk_pooling='mean': use chunk_pooling='mean', or objective='auto' or "
                    "'cross_entropy'.")
        return None

    def _contrastive_unless_nothing_trains(self, trained):
        """``"contrastive"``, or ``"cross_entropy"`` for "auto" when only the head would train.

        A strategy may find nothing to train in a backbone (bitfit on one
        without biases); the contrastive objective then has nothing to adapt.
        """
        if any(p.requires_grad for name, p in trained.named_parameters()
               if not name.startswith("head.")):
            return "contrastive"
        if self.objective == "auto":
            return "cross_entropy"
        raise ValueError(
            f"objective='contrastive' trains the backbone, and strategy={self.strategy!r} "
            "finds nothing to train in this one (bitfit on a backbone without biases?): "
            "use objective='auto' or 'cross_entropy', or another strategy.")

    def _average_from(self, n_steps):
        """The first averaged optimizer step with ``average=True``, else None."""
        if not self.average or self.early_stopping is not None:
            return None
        return max(1, round(AVERAGED_SHARE * n_steps) + 1)

    def _start_head_at_prototypes(self, module, tokenizer, data, device):
        n_classes = module.head.out_features
        sample = data.train_idx[per_class_sample(data.train_strata, n_classes, PROTOTYPE_TEXTS,
                                                 data.seed)]
        _, embeddings = self._outputs_at(module.eval(), tokenizer, data, sample, device)
        module.train()
        start_at_prototypes(module.head, embeddings, data.strata[sample], n_classes)

    def _clear_fitted_attributes(self):
        for name in [key for key in vars(self) if key.endswith("_") and not key.startswith("_")]:
            delattr(self, name)

    def _long_text_policy(self, tokenizer):
        return long_text_policy(self.long_text, tokenizer, self.stride, self.chunk_pooling)

    def _outputs_at(self, module, tokenizer, data, indices, device):
        """Logits and pooled embeddings of the fit's texts at ``indices``, from one pass."""
        return self._text_outputs(module, tokenizer, [data.texts[i] for i in indices], device,
                                  n_logits=len(data.classes))

    def _text_outputs(self, module, tokenizer, texts, device, n_logits=None,
                      show_progress=False):
        # With n_logits: (logits, pooled embeddings), from one pass. Inside
        # fit, the fit's own bar shows the progress.
        outputs = self._long_text_policy(tokenizer).logits(
            module if n_logits is None else LogitsAndEmbedding(module),
            texts,
            pad_token_id=tokenizer.pad_token_id,
            batch_size=self.batch_size,
            device=device,
            precision=resolve_precision(self.precision, device),
            show_progress=show_progress,
        ).astype(np.float64)
        return outputs if n_logits is None else (outputs[:, :n_logits], outputs[:, n_logits:])

    def _logits(self, X):
        check_is_fitted(self)
        return self._text_outputs(self.module_, self.tokenizer_, check_texts(X),
                                  inference_device(self.device),
                                  show_progress=self.verbose > 0) / self.temperature_

    def _logits_and_embeddings(self, X):
        check_is_fitted(self)
        logits, embeddings = self._text_outputs(
            self.module_, self.tokenizer_, check_texts(X), inference_device(self.device),
            n_logits=self.n_classes_, show_progress=self.verbose > 0)
        return logits / self.temperature_, embeddings

    def _logits_and_scope_scores(self, X):
        # The embeddings pass only where the score needs it.
        gaussians = self._fitted_gaussians()
        logits, embeddings = ((self._logits(X), None) if gaussians is None
                              else self._logits_and_embeddings(X))
        return logits, self._scope_scores(logits, embeddings, gaussians)

    def _scope_scores(self, logits, embeddings, gaussians):
        if self.oos_score == "mahalanobis":
            return gaussians.scores(embeddings)
        return logit_scores(logits, self.oos_score)

    def _fitted_gaussians(self):
        if self.oos_score != "mahalanobis":
            return None
        if self.embedding_means_ is None:
            raise ValueError(
                "oos_score='mahalanobis' needs the class means of the training embeddings, "
                "which fit computes only when oos_score='mahalanobis' is set before fitting: "
                "refit with it, or choose oos_score='energy' or 'max_proba'.")
        return ClassGaussians(self.embedding_means_, self.embedding_precision_)

    def decision_function(self, X):
        """Class scores (logits) of each text.

        Parameters
        ----------
        X : sequence of str of length n_samples
            Raw texts, as in ``fit``.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Columns follow ``classes_``. With two classes (one label per
            text), as in scikit-learn, one column: the score of
            ``classes_[1]`` over ``classes_[0]``.
        """
        logits = self._logits(X)
        if logits.shape[1] == 2 and not self.multilabel_:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict_proba(self, X):
        """Class probabilities of each text.

        Parameters
        ----------
        X : sequence of str of length n_samples
            Raw texts, as in ``fit``.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``. Rows sum to 1; for multi-label
            data, each entry is the probability of that label on its own.
        """
        return self._proba(self._logits(X))

    def _proba(self, logits):
        return expit(logits) if self.multilabel_ else softmax(logits, axis=1)

    def _label_threshold(self):
        if self.threshold != "auto":
            return self.threshold
        if self.label_thresholds_ is None:
            raise ValueError(
                "threshold='auto' uses the thresholds tuned at fit time, and this model was "
                "fitted with a fixed threshold: set threshold back to a number, or refit "
                "with threshold='auto' and validation_fraction.")
        return self.label_thresholds_

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed stably.

        Parameters
        ----------
        X : sequence of str of length n_samples
            Raw texts, as in ``fit``.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        logits = self._logits(X)
        return log_expit(logits) if self.multilabel_ else log_softmax(logits, axis=1)

    def predict(self, X):
        """Most probable label of each text (or its set of labels).

        Parameters
        ----------
        X : sequence of str of length n_samples
            Raw texts, as in ``fit``.

        Returns
        -------
        labels : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Values from ``classes_``, in their original type; for
            multi-label data, the 0/1 indicator matrix of the labels whose
            probability reaches ``threshold`` (each label's own with
            ``"auto"``), at least one per text with ``at_least_one_label``.
        """
        return self._labels_and_logits(X)[0]

    def _labels_and_logits(self, X):
        """What ``predict`` answers and the logits, from one pass of the model.

        For callers that also need the probabilities (``tsft predict
        --proba``): ``self._proba(logits)`` is ``predict_proba(X)``.
        """
        check_is_fitted(self)
        if self.multilabel_ or self.unknown_label is None or self.unknown_threshold_ is None:
            logits, scores = self._logits(X), None
        else:
            if self.oos_score != self.unknown_score_:
                raise ValueError(
                    f"unknown_threshold_ was set with oos_score={self.unknown_score_!r}, but "
                    f"oos_score is now {self.oos_score!r}: set it back, or refit.")
            logits, scores = self._logits_and_scope_scores(X)
        return self._labels(logits, scores), logits

    def _labels(self, logits, scope_scores=None):
        if self.multilabel_:
            return label_indicators(self._proba(logits), self._label_threshold(),
                                    self.at_least_one_label)
        labels = self.classes_[np.argmax(logits, axis=1)]
        if scope_scores is None:
            return labels
        labels = labels.astype(object)
        labels[scope_scores < self.unknown_threshold_] = self.unknown_label
        return labels

    def explain(self, X, target=None):
        """Each word's contribution to a class probability, by occlusion.

        A word's contribution is the probability of the class for the text
        minus that probability with the word left out; positive words push
        towards the class. Words are the text split on whitespace, in order,
        so joining them with spaces gives the text back up to spacing.

        Parameters
        ----------
        X : sequence of str of length n_samples
            Raw texts, as in ``fit``.
        target : label or None, default=None
            The class explained, one of ``classes_``; None explains each
            text's predicted class.

        Returns
        -------
        explanations : list of list of (str, float)
            Per text, its ``(word, contribution)`` pairs in text order.
        """
        return self._explanations_and_classes(X, target)[0]

    def _explanations_and_classes(self, X, target=None):
        """``explain``'s answer and the column of the class each text's explains."""
        check_is_fitted(self)
        texts = check_texts(X)
        if self.multilabel_:
            raise ValueError("explain is for one label per text; a multi-label model has no "
                             "single class to explain.")
        proba = self.predict_proba(texts)
        columns = (np.argmax(proba, axis=1) if target is None
                   else np.full(len(texts), self._class_index(target)))
        return ([self._explain_text(text, proba[row, columns[row]], columns[row])
                 for row, text in enumerate(texts)], columns)

    def _class_index(self, target):
        if isinstance(target, (list, np.ndarray)):
            raise TypeError(
                f"target must be one label, one of classes_, got a {type(target).__name__}; "
                "explain one class at a time, or leave target=None for each text's "
                "predicted class.")
        matches = [i for i, label in enumerate(self.classes_) if label == target]
        if not matches:
            raise ValueError(f"target={target!r} is not one of classes_ "
                             f"({', '.join(map(repr, self.classes_))}).")
        return matches[0]

    def _explain_text(self, text, probability, column):
        """``(word, contribution)`` pairs of one text, its occluded copies in bounded batches.

        Words past what the model reads (beyond ``max_length`` tokens when
        truncating) change nothing and contribute 0 without a pass; each
        occluded copy keeps only as many later words as can fill the
        tokens freed.
        """
        words = text.split()
        n_read = (len(words) if self.long_text == "chunk"
                  else self.tokenizer_.words_read(text, words))
        occluded = (" ".join(words[:i] + words[i + 1:n_read + self.tokenizer_.max_length])
                    for i in range(n_read))
        contributions = np.zeros(len(words))
        for start in range(0, n_read, OCCLUSION_BATCH):
            batch = list(itertools.islice(occluded, OCCLUSION_BATCH))
            contributions[start:start + len(batch)] = (
                probability - self.predict_proba(batch)[:, column])
        return [(word, float(value)) for word, value in zip(words, contributions)]

    def score_samples(self, X):
        """How much each text looks like the training classes; higher is more in scope.

        Low scores flag out-of-scope texts (none of the classes), as with
        scikit-learn's novelty detectors. ``oos_score`` chooses the score.

        Parameters
        ----------
        X : sequence of str of length n_samples
            Raw texts, as in ``fit``.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        if self.multilabel_:
            raise ValueError(
                "score_samples is for one label per text; a multi-label model has no single "
                "class to be in scope of. Use predict_proba.")
        return self._logits_and_scope_scores(X)[1]

    def transform(self, X):
        """Embed texts: the pooled, L2-normalised embeddings of the fitted backbone.

        The features the head classifies (before it), for clustering,
        retrieval or a second model on top, as SetFit's ``encode`` gives
        them; batched like ``predict`` (``batch_size``, ``long_text``).
        In a ``Pipeline`` the classifier can so be an intermediate step.

        Parameters
        ----------
        X : sequence of str of length n_samples
            Raw texts, as in ``fit``.

        Returns
        -------
        embeddings : ndarray of shape (n_samples, n_features_out)
            Rows of unit L2 norm; ``n_features_out`` is the backbone's
            hidden size (``get_feature_names_out`` names the columns).
        """
        embeddings = self._logits_and_embeddings(X)[1]
        norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
        return embeddings / np.maximum(norms, np.finfo(embeddings.dtype).tiny)

    @property
    def _n_features_out(self):
        # ClassNamePrefixFeaturesOutMixin names transform's columns from it.
        check_is_fitted(self)
        return self.module_.embedding_size

    def save(self, path):
        """Write the fitted estimator to a directory, without pickle.

        Weights go to safetensors, the tokenizer to its own files, and the
        parameters, classes and fitted attributes to JSON (see
        :mod:`sklearn_tsft.persistence`). Load it with :meth:`load`.

        Parameters
        ----------
        path : str or os.PathLike
            Directory to write: a new or empty one, or one a previous save
            wrote, which is replaced as a whole and atomically (a crash
            leaves the old model or the new one, never a mix; see
            ``docs/guarantees.md``). Any other non-empty directory is
            refused.

        Returns
        -------
        self : TokenSparseClassifier
        """
        check_is_fitted(self)
        persistence.save(self, path)
        return self

    @classmethod
    def load(cls, path, *, backend="torch", device=None, trust_remote_code=False):
        """Rebuild a fitted estimator from a directory written by :meth:`save`.

        Nothing is unpickled and no code from the directory runs. The
        directory holds the whole model: it loads after the backbone
        directory of the fit is gone, on another machine, and a model
        fitted on a GPU loads on a CPU-only machine.

        Parameters
        ----------
        path : str or os.PathLike
        backend : {"torch", "onnx"}, default="torch"
            ``"onnx"`` predicts through the ``model.onnx`` that
            :meth:`export_onnx` wrote into the directory, with onnxruntime
            on the CPU (``pip install 'sklearn-tsft[onnx]'``).
        device : str or None, default=None
            The loaded estimator's ``device`` parameter. None keeps the
            saved one where this machine has it; a device this machine
            lacks (a GPU model on a CPU machine) becomes ``"auto"``, with
            a warning.
        trust_remote_code : bool, default=False
            Let transformers run code shipped with the backbone's config;
            only for backbones that need it, from sources you trust.

        Returns
        -------
        estimator : TokenSparseClassifier
            Its ``predict_proba`` equals the saved estimator's.

        Examples
        --------
        >>> clf.save("my_model")  # doctest: +SKIP
        >>> TokenSparseClassifier.load("my_model").predict(["lost my card"])  # doctest: +SKIP
        """
        return persistence.load(cls, path, backend=backend, device=device,
                                trust_remote_code=trust_remote_code)

    def export_onnx(self, path, quantize=None):
        """Save the estimator and add an ONNX model of it, for fast CPU serving.

        The directory is what :meth:`save` writes plus ``model.onnx``;
        ``TokenSparseClassifier.load(path, backend="onnx")`` then predicts
        through onnxruntime (tokenization, batching, windows, temperature
        as usual). Needs ``pip install 'sklearn-tsft[onnx]'``.

        Parameters
        ----------
        path : str or os.PathLike
        quantize : {None, "int8"}, default=None
            ``"int8"``: onnxruntime's dynamic quantization, one weight
            scale per output channel (on banking77: a 4x smaller file,
            1.7x to 2.0x torch's speed on a 2-core CPU, within 0.15 points
            of float32's accuracy; see
            ``docs/benchmarks.md``).

        Returns
        -------
        self : TokenSparseClassifier
        """
        check_is_fitted(self)
        Options(*onnx_export.QUANTIZATIONS,
                message="quantize must be None or 'int8', got {value!r}.").check("quantize",
                                                                                 quantize)
        onnx_export.import_onnxruntime()
        persistence.save(self, path, onnx=True, quantize=quantize)
        return self

    def export_pretrained(self, path):
        """Write a Hugging Face ``AutoModelForSequenceClassification`` directory.

        ``transformers.pipeline("text-classification", model=path,
        trust_remote_code=True)`` loads it where only transformers is
        installed (the directory carries the mean-pooling architecture as
        ``modeling_tsft.py``; in a process that has imported
        ``sklearn_tsft`` no ``trust_remote_code`` is needed; see
        :mod:`sklearn_tsft.hf_export`) and gives the same top labels, as
        strings, with ``id2label`` following ``classes_``. No file holds a
        path of the training machine.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        self : TokenSparseClassifier
        """
        check_is_fitted(self)
        if not STRATEGIES[self.strategy].mergeable:
            raise ValueError(
                f"strategy={self.strategy!r} keeps a wrapper around the encoder (peft's "
                "prefix), which transformers' classification classes cannot hold; use "
                "save()/load(), or another strategy."
            )
        if self.long_text == "chunk":
            warnings.warn(
                "long_text='chunk' is not part of the exported transformers model: "
                "pipeline() will truncate long texts (use truncation=True) instead of "
                "combining windows.", UserWarning, stacklevel=2)
        hf_export.export_pretrained(self.module_, self.tokenizer_.tokenizer, self.classes_, path,
                                    multilabel=self.multilabel_,
                                    card=model_card(self, Path(path), exported=True))
        return self
