"""Exploratory variants of the contrastive objective on few-shot cells.

usage: contrastive_variants.py NAME DATASETS SEEDS [key=value ...]
keys: estimator params, per_class=N (default 10) or n_train=N (the suite's
stratified slice), C.tau / C.group / C.lrC (contrastive constants / head),
SEL=contrastive (rows scored on the supervised contrastive loss instead of the
nearest-class-mean head), SWA.lr_share=S (with average=True: the rate
decays linearly to S x its peak by the first averaged step and stays there,
SWA's constant rate, instead of decaying to 0), DROP=off (every dropout
of the backbone at 0) or DROP=narrowed (at 0 during the full-depth steps,
back on once the schedule narrows to the top blocks), or TS.NAME (a constant of sklearn_tsft.strategies.token_sparse, e.g.
TS.FULL_DEPTH_SHARE=1/8); data from $TSFT_DATA (default ../shared/data beside the
repository); rows go to $EXPLORE_ROWS (default contrastive-variants.jsonl in the
working directory, which a session outlives where /tmp does not)

Exploratory: it rewrites module constants to try variants. The rows in
benchmarks/results/exploratory-2026-12-02/ were measured at 70aa283, run
with ``PYTHONPATH`` set to a checkout of that commit.
"""
import json, os, sys, time
from pathlib import Path
import numpy as np
import torch
from sklearn_tsft import TokenSparseClassifier
import sklearn_tsft.contrastive as C
import sklearn_tsft.head_init as H
import sklearn_tsft.strategies.token_sparse as TS
from sklearn_tsft.benchmark import read_split
from sklearn.metrics import accuracy_score, f1_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from repository import data_dir, package_commit  # noqa: E402
from suite import DATASETS  # noqa: E402

name, datasets, seeds, *kv = sys.argv[1:]
params = {}
for item in kv:
    k, v = item.split("=")
    try: v = eval(v)
    except Exception: pass
    if k == "C.tau":
        C.TEMPERATURE = v
        C.supervised_contrastive_loss.__defaults__ = (v,)
    elif k == "C.group": C.GROUP_SIZE = v
    elif k.startswith("TS."): setattr(TS, k[3:], v)
    elif k == "SEL" and v == "contrastive":
        # row_sensitivity's logits become 20 x the pooled embeddings (identity
        # "prototypes") and its cross-entropy the contrastive loss of them.
        import types, torch
        import sklearn_tsft.strategies.token_sparse.selection as SELECTION
        SELECTION.class_prototypes = lambda encoder, batches, n: torch.eye(encoder.config.hidden_size)
        SELECTION.F = types.SimpleNamespace(
            normalize=SELECTION.F.normalize,
            cross_entropy=lambda z, labels: C.supervised_contrastive_loss(z, labels).mean())
    elif k == "SWA.lr_share":
        import sklearn_tsft.classifier as K
        import sklearn_tsft.training as T
        from torch.optim.lr_scheduler import LambdaLR
        def constant_tail(optimizer, num_warmup_steps, num_training_steps, last_epoch=-1,
                          share=v):
            # The scheduler's step count when the first averaged step runs.
            start = K.TokenSparseClassifier(average=True)._average_from(num_training_steps) - 1
            def factor(step):
                if step < num_warmup_steps:
                    return step / max(1, num_warmup_steps)
                if step >= start:
                    return share
                return 1 - (1 - share) * (step - num_warmup_steps) / max(1, start - num_warmup_steps)
            return LambdaLR(optimizer, factor, last_epoch=last_epoch)
        T.get_linear_schedule_with_warmup = constant_tail
    elif k == "DROP":
        # Its rows ran at f36bd52, before the package trained contrastive fits
        # without dropout (9202be0); so it zeroes the rates itself, and since
        # 9202be0 DROP=off is the default and DROP=narrowed still restores them.
        import sklearn_tsft.classifier as K
        load, step_end = K.load_backbone, TS.NarrowAfterStep.on_batch_end
        rates = {}  # the current fit's dropout modules and their rates
        def without_dropout(model, verbose=0):
            tokenizer, encoder, backbone = load(model, verbose)
            rates.clear()
            rates.update({m: m.p for m in encoder.modules() if isinstance(m, torch.nn.Dropout)})
            for m in rates:
                m.p = 0.0
            return tokenizer, encoder, backbone
        def restore_on_narrowing(self, net, training=None, **kwargs):
            if training and self.steps_done_ + 1 == self.step:
                for m, p in rates.items():
                    m.p = p
            step_end(self, net, training=training, **kwargs)
        K.load_backbone = without_dropout
        if v == "narrowed":
            TS.NarrowAfterStep.on_batch_end = restore_on_narrowing
    elif k == "C.lrC":
        from sklearn.linear_model import LogisticRegression
        orig = H.LogisticRegression
        H.LogisticRegression = lambda max_iter: LogisticRegression(C=v, max_iter=max_iter)
    else: params[k] = v
# n_train=N: the suite's larger size (a stratified N-text slice) instead of
# per_class texts of each label.
N_TRAIN = params.pop("n_train", None)
PER_CLASS = None if N_TRAIN else int(params.pop("per_class", 10))
params.pop("per_class", None)  # ignored beside n_train
for ds in datasets.split(","):
    folder = data_dir() / ds
    split = read_split(folder / "train.csv", folder / "test.csv", "text", DATASETS[ds][0],
                       per_class=PER_CLASS, n_train=N_TRAIN, n_test=500)
    for seed in map(int, seeds.split(",")):
        X, y, Xt, yt = split
        t = time.perf_counter()
        clf = TokenSparseClassifier(random_state=seed, **params).fit(X, y)
        fit_s = time.perf_counter() - t
        pred = clf.predict(Xt)
        row = {"name": name, "dataset": ds, "seed": seed, "params": {k: str(v) for k, v in params.items()},
               "kv": kv, "accuracy": accuracy_score(yt, pred), "macro_f1": f1_score(yt, pred, average="macro"),
               "fit_s": fit_s, "objective": clf.objective_, "per_class": PER_CLASS,
               "n_train": len(X),
               "model": Path(str(params.get("model", "default"))).name,
               "commit": package_commit()}
        print(json.dumps(row), flush=True)
        with open(os.environ.get("EXPLORE_ROWS", "contrastive-variants.jsonl"), "a") as f:
            f.write(json.dumps(row) + "\n")
