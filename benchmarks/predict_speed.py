"""Prediction throughput of predict_proba against a bare forward loop and a transformers pipeline.

On the default backbone and banking77 test texts, in one run, interleaved
and repeated (median of ``--repeats``):

* ``predict_proba``: tokenization, length-sorted dynamic batches, forward, softmax;
* (a) bare loop: the same module's forward over the same batches, already
  tokenized and padded (no tokenization, no sorting, no softmax);
* (b) ``transformers.pipeline("text-classification")`` on the model written
  by ``export_pretrained``, at batch size 1 (its default) and at the
  estimator's batch size.

Run from the repository root: ``python benchmarks/predict_speed.py``.
"""

import argparse
import copy
import statistics
import tempfile
import time

import numpy as np
import torch
from transformers import pipeline

from sklearn_tsft import TokenSparseClassifier
from repository import add_repository_arguments
from sklearn_tsft.benchmark import load_split


def bare_batches(clf, texts):
    """The batches predict_proba builds, tokenized and padded ahead of time."""
    ids = clf.tokenizer_.encode(texts)
    order = np.argsort([len(i) for i in ids], kind="stable")
    batches = []
    for start in range(0, len(order), clf.batch_size):
        padded = clf.tokenizer_.tokenizer.pad(
            {"input_ids": [ids[i] for i in order[start:start + clf.batch_size]]},
            return_tensors="pt")
        batches.append((padded["input_ids"], padded["attention_mask"]))
    return batches


def bare_loop(module, batches):
    with torch.inference_mode():
        for input_ids, mask in batches:
            module(input_ids=input_ids, attention_mask=mask)


def timed(func):
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def main(argv=None):
    parser = add_repository_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--repeats", type=int, default=3)
    parser.set_defaults(n_train=500, n_test=2000, device="cpu")
    args = parser.parse_args(argv)
    train_texts, train_labels, texts, _ = load_split(args)
    # The fitted weights do not change the cost; a one-epoch head fit is enough.
    clf = TokenSparseClassifier(args.model, strategy="head", max_epochs=1, device=args.device,
                                random_state=0)
    clf.fit(train_texts, train_labels)
    export = tempfile.mkdtemp(prefix="tsft_export_")
    clf.export_pretrained(export)
    pipe = pipeline("text-classification", model=export, device=args.device)
    # A copy: predict_proba moves the estimator's module back to the CPU after each call.
    module = copy.deepcopy(clf.module_).to(args.device).eval()
    batches = [(ids.to(args.device), mask.to(args.device)) for ids, mask in bare_batches(clf, texts)]
    candidates = {
        "predict_proba": lambda: clf.predict_proba(texts),
        "bare forward loop (pre-tokenized)": lambda: bare_loop(module, batches),
        "pipeline, batch_size=1": lambda: pipe(texts, truncation=True, max_length=clf.max_length),
        f"pipeline, batch_size={clf.batch_size}": lambda: pipe(
            texts, batch_size=clf.batch_size, truncation=True, max_length=clf.max_length),
    }
    seconds = {name: [] for name in candidates}
    for _ in range(args.repeats):
        for name, func in candidates.items():
            seconds[name].append(timed(func))
    rate = {name: len(texts) / statistics.median(times) for name, times in seconds.items()}
    ours = rate["predict_proba"]
    print(f"{len(texts)} banking77 test texts, default backbone, {args.device}, "
          f"{torch.get_num_threads()} CPU threads, median of {args.repeats}\n")
    print("| method | texts/s | predict_proba / method |\n|---|---|---|")
    for name, value in rate.items():
        print(f"| {name} | {value:.0f} | {ours / value:.2f} |")


if __name__ == "__main__":
    main()
