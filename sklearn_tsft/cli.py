"""The ``tsft`` command: fit, predict, evaluate, explain and benchmark from a shell.

Exit status 0 on success, 2 on bad usage or bad input (one line on stderr,
no traceback), 130 when interrupted.
"""

import argparse
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ._params import parse_assignment, parse_epochs
from ._version import __version__
from .tables import LABEL_TYPES, column, label_column, label_sets, read_table, write_table

USER_ERRORS = (ValueError, TypeError, ImportError, OSError)


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line (argparse prints the usage first)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class _DefaultsShown(argparse.HelpFormatter):
    """Every option's help ends with its default, unless it is required or has none."""

    def _get_help_string(self, action):
        help = action.help or ""
        if ("%(default)" in help or action.required
                or action.default in (None, False, [], argparse.SUPPRESS)):
            return help
        return f"{help} (default: %(default)s)".strip()


def _progress(message, args):
    if not args.quiet:
        print(message, file=sys.stderr, flush=True)


def _parameter(text):
    try:
        return parse_assignment(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def cmd_fit(args):
    from .classifier import TokenSparseClassifier
    from .persistence import check_save_target

    check_save_target(args.out)  # before a fit that the save would waste
    frame = read_table(args.train, args.format)
    texts = column(frame, args.text_column, args.train)
    labels = (_label_matrix(frame, args.label_column, args.train, args.label_separator)
              if args.multilabel
              else label_column(frame, args.label_column, args.train, args.label_type))
    params = {"model": args.model, "strategy": args.strategy, "sparsity": args.sparsity,
              "max_epochs": args.max_epochs, "batch_size": args.batch_size,
              "device": args.device, "random_state": args.random_state,
              "verbose": 0 if args.quiet else 1, **dict(args.param)}
    clf = TokenSparseClassifier(**params)
    clf._validate_params()  # a bad option fails before anything says it is fitting
    kind = f"{labels.shape[1]} labels" if args.multilabel else f"{labels.nunique()} classes"
    _progress(f"fitting on {len(frame)} texts of {kind}", args)
    clf.fit(texts, labels)
    clf.save(args.out)
    _progress(f"saved to {args.out}", args)


def _label_matrix(frame, name, path, separator):
    """The indicator matrix of the cells' label sets, one named column per label."""
    from sklearn.preprocessing import MultiLabelBinarizer

    binarizer = MultiLabelBinarizer()
    indicator = binarizer.fit_transform(label_sets(frame, name, path, separator))
    if indicator.shape[1] < 2:
        raise ValueError(f"{path}: --multilabel needs at least two distinct labels in column "
                         f"{name!r} (split on {separator!r}); found "
                         f"{list(binarizer.classes_)}.")
    return pd.DataFrame(indicator, columns=binarizer.classes_)


def _load(args):
    from .classifier import TokenSparseClassifier

    clf = TokenSparseClassifier.load(args.model_dir)
    if args.device is not None:
        clf.set_params(device=args.device)
    return clf.set_params(verbose=0 if args.quiet else 1)


def _check_out_is_not_input(args):
    """Refuse ``--out`` naming the input file: the input must stay as it was."""
    if "-" in (str(args.out), str(args.input)) or not Path(args.out).exists():
        return
    if Path(args.out).resolve() == Path(args.input).resolve():
        raise ValueError(f"--out {args.out} is the input table; write to another file "
                         "(the input is left as it is).")


def cmd_predict(args):
    _check_out_is_not_input(args)
    clf = _load(args)
    frame = read_table(args.input, args.format)
    texts = column(frame, args.text_column, args.input)
    out = frame.copy()
    added = ([f"proba_{label}" for label in clf.classes_] if args.proba else []) + (
        [f"{args.prediction_column}_{label}" for label in clf.classes_] if clf.multilabel_
        else [args.prediction_column])
    taken = [name for name in added if name in frame.columns]
    if taken:
        raise ValueError(
            f"{args.input} already has the column(s) {', '.join(map(repr, taken))} that "
            "predict would write; choose another --prediction-column or rename them.")
    predicted, logits = clf._labels_and_logits(texts)  # one pass, for --proba too
    if args.proba:
        for label, proba in zip(clf.classes_, clf._proba(logits).T):
            out[f"proba_{label}"] = proba
    if clf.multilabel_:
        for label, indicator in zip(clf.classes_, predicted.T):
            out[f"{args.prediction_column}_{label}"] = indicator
    else:
        out[args.prediction_column] = predicted
    write_table(out, args.out, args.out_format)


def cmd_evaluate(args):
    from sklearn.metrics import accuracy_score, classification_report, f1_score

    clf = _load(args)
    frame = read_table(args.test, args.format)
    texts = column(frame, args.text_column, args.test)
    if clf.multilabel_:
        _print_multilabel_report(clf, texts, frame, args)
        return
    truth = _as_classes(clf, label_column(frame, args.label_column, args.test).to_numpy())
    predicted = clf.predict(texts)
    print(f"accuracy: {accuracy_score(truth, predicted):.4f}")
    print(f"macro-F1: {f1_score(truth, predicted, average='macro'):.4f}")
    if clf.unknown_label is not None:
        _print_scope_report(clf, texts, truth, predicted)
    print(classification_report(truth, predicted, zero_division=0))


def _print_multilabel_report(clf, texts, frame, args):
    from sklearn.metrics import accuracy_score, classification_report, f1_score
    from sklearn.preprocessing import MultiLabelBinarizer

    names = [str(label) for label in clf.classes_]
    sets = label_sets(frame, args.label_column, args.test, args.label_separator)
    unknown = sorted(set().union(*sets) - set(names))
    if unknown:
        raise ValueError(f"{args.test}: labels the model does not know: {', '.join(unknown)} "
                         f"(its labels: {', '.join(names)}).")
    truth = MultiLabelBinarizer(classes=names).fit_transform(sets)
    predicted = clf.predict(texts)
    print(f"micro-F1: {f1_score(truth, predicted, average='micro', zero_division=0):.4f}")
    print(f"macro-F1: {f1_score(truth, predicted, average='macro', zero_division=0):.4f}")
    print(f"exact-set accuracy: {accuracy_score(truth, predicted):.4f}")
    print(classification_report(truth, predicted, target_names=names, zero_division=0))


def _print_scope_report(clf, texts, truth, predicted):
    from sklearn.metrics import roc_auc_score

    out_of_scope = np.array([label == clf.unknown_label for label in truth])
    if not out_of_scope.any():
        print(f"out-of-scope: no text is labelled {clf.unknown_label!r} (the model's "
              "unknown_label), so there is nothing to detect")
        return
    unknown = np.array([label == clf.unknown_label for label in predicted])
    if (~out_of_scope).any():
        print(f"in-scope accuracy: {np.mean(predicted[~out_of_scope] == truth[~out_of_scope]):.4f}")
        auroc = roc_auc_score(~out_of_scope, clf.score_samples(texts))
        print(f"out-of-scope AUROC ({clf.oos_score}): {auroc:.4f}")
    print(f"out-of-scope recall: {np.mean(unknown[out_of_scope]):.4f} "
          f"({int(out_of_scope.sum())} texts labelled {clf.unknown_label!r})")


def cmd_explain(args):
    _check_out_is_not_input(args)
    clf = _load(args)
    frame = read_table(args.input, args.format)
    texts = column(frame, args.text_column, args.input)
    target = None if args.target is None else _class_named(clf, args.target)
    explanations, columns = clf._explanations_and_classes(texts, target)
    targets = clf.classes_[columns]
    rows = [{"text_index": i, "word_index": j, "word": word, "contribution": contribution,
             "class": explained}
            for i, (explanation, explained) in enumerate(zip(explanations, targets))
            for j, (word, contribution) in enumerate(explanation)]
    columns = ["text_index", "word_index", "word", "contribution", "class"]
    write_table(pd.DataFrame(rows, columns=columns), args.out, args.out_format)


def _as_classes(clf, labels):
    """Labels read as text, as the model's classes where one is written that way."""
    by_text = {str(label): label for label in clf.classes_}
    return np.array([by_text.get(str(label), label) for label in labels], dtype=object)


def _class_named(clf, name):
    # Labels read from a shell are strings; the model's classes may be numbers.
    matches = [label for label in clf.classes_ if str(label) == name]
    if not matches:
        raise ValueError(f"--target {name!r} is not a class of the model; its classes are "
                         f"{', '.join(map(str, clf.classes_))}.")
    return matches[0]


def cmd_bench(args):
    from .benchmark import run

    run(args, log=(lambda *_: None) if args.quiet else print)


def build_parser():
    parser = _Parser(
        prog="tsft", description="Token-sparse finetuning of small transformers for text "
        "classification. Tables are CSV, TSV or JSON Lines (by suffix; '-' is stdin/stdout).")
    parser.add_argument("--version", action="version", version=f"sklearn-tsft {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, func, help):
        sub = commands.add_parser(name, help=help, description=help,
                                  formatter_class=_DefaultsShown)
        sub.set_defaults(func=func)
        sub.add_argument("--quiet", action="store_true", help="no progress output")
        return sub

    def table_options(sub, label=False):
        sub.add_argument("--text-column", default="text", help="column of the texts")
        if label:
            sub.add_argument("--label-column", default="label", help="column of the labels")
            sub.add_argument("--label-separator", default="|",
                             help="multi-label models: what separates a cell's labels")
        sub.add_argument("--format", choices=["csv", "tsv", "jsonl"],
                         help="input format when the suffix does not tell (default for '-': csv)")

    # The estimator's own defaults: one source for Python and the shell.
    from .classifier import TokenSparseClassifier
    from .strategies import available_strategies

    default = TokenSparseClassifier().get_params()
    fit = command("fit", cmd_fit, "fit a classifier on a labelled table and save it")
    fit.add_argument("train", type=Path, help="training table")
    table_options(fit, label=True)
    fit.add_argument("--out", required=True, type=Path, help="model directory to write")
    fit.add_argument("--model", default=default["model"], help="backbone: the packaged "
                     "all-MiniLM-L6-v2 ('default'), a local directory or a Hub id")
    fit.add_argument("--strategy", default=default["strategy"],
                     choices=sorted(available_strategies()),
                     help="which parameters of the backbone train")
    fit.add_argument("--sparsity", type=float, default=default["sparsity"],
                     help="token_sparse: share of the linear layers' rows trained")
    fit.add_argument("--max-epochs", type=parse_epochs, default=default["max_epochs"],
                     help="passes over the data, or 'auto'")
    fit.add_argument("--batch-size", type=int, default=default["batch_size"],
                     help="texts per optimizer step")
    fit.add_argument("--device", default=default["device"],
                     help="'auto' (CUDA when present), 'cpu', 'cuda', 'cuda:1', ...")
    fit.add_argument("--random-state", type=int, default=default["random_state"],
                     help="seed; an int makes a CPU fit repeatable (default: none, "
                     "a different fit each run)")
    fit.add_argument("--label-type", choices=list(LABEL_TYPES),
                     help="convert the label cells to this type (default: the text as "
                     "written, so 01 and 1 are two classes; JSON Lines keeps its types)")
    fit.add_argument("--multilabel", action="store_true",
                     help="each label cell holds a text's labels, split on "
                     "--label-separator; trains one sigmoid per label")
    fit.add_argument("--param", type=_parameter, action="append", default=[],
                     metavar="NAME=VALUE", help="any other TokenSparseClassifier parameter "
                     "(repeatable), e.g. --param lora_r=16")

    predict = command("predict", cmd_predict, "predict the labels of a table's texts")
    predict.add_argument("model_dir", type=Path, help="directory written by 'tsft fit' or save()")
    predict.add_argument("input", help="table of texts, or '-' for stdin")
    table_options(predict)
    predict.add_argument("--out", default="-", help="output table ('-': stdout as CSV)")
    predict.add_argument("--out-format", choices=["csv", "tsv", "jsonl"],
                         help="output format when the suffix does not tell")
    predict.add_argument("--proba", action="store_true",
                         help="add a proba_<label> column per class")
    predict.add_argument("--prediction-column", default="prediction",
                         help="name of the predicted label's column; a multi-label model "
                         "writes one 0/1 column per label, <name>_<label>")
    predict.add_argument("--device", help="where to predict (default: the saved model's, "
                         "or 'auto' where that device is missing)")

    evaluate = command("evaluate", cmd_evaluate,
                       "accuracy, macro-F1 and the classification report on a labelled table")
    evaluate.add_argument("model_dir", type=Path, help="directory written by 'tsft fit' or save()")
    evaluate.add_argument("test", help="labelled table, or '-' for stdin")
    table_options(evaluate, label=True)
    evaluate.add_argument("--device", help="where to predict (default: the saved model's)")

    explain = command("explain", cmd_explain, "each word's contribution to the predicted "
                      "class (or --target), one row per word")
    explain.add_argument("model_dir", type=Path, help="directory written by 'tsft fit' or save()")
    explain.add_argument("input", help="table of texts, or '-' for stdin")
    table_options(explain)
    explain.add_argument("--target", help="explain this class instead of each text's prediction")
    explain.add_argument("--out", default="-", help="output table ('-': stdout as CSV)")
    explain.add_argument("--out-format", choices=["csv", "tsv", "jsonl"],
                         help="output format when the suffix does not tell")
    explain.add_argument("--device", help="where to predict (default: the saved model's)")

    from .benchmark import add_arguments

    add_arguments(command("bench", cmd_bench, "compare every strategy and TF-IDF on your own training and test tables"))
    return parser


def main(argv=None):
    """Entry point of the ``tsft`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except BrokenPipeError:
        # The reader stopped early (| head): what it read is what it asked
        # for. Exit as a program killed by SIGPIPE does, without a message.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except KeyboardInterrupt:
        print("tsft: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"tsft {args.command}: error: {message}", file=sys.stderr)
        return 2
    return 0


def console():
    sys.exit(main())
