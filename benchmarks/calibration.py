"""Expected calibration error of predict_proba on banking77, without and with temperature scaling.

One token_sparse fit with a 10% validation split; the temperature is fitted
on that split (``calibrate=True``) and both versions are scored on the test
texts. Run from the repository root: ``python benchmarks/calibration.py``
(about 3 minutes on two CPU cores with the defaults).
"""

import argparse

from sklearn.metrics import accuracy_score, log_loss

from sklearn_tsft import TokenSparseClassifier
from repository import add_repository_arguments
from sklearn_tsft.benchmark import load_split
from sklearn_tsft.calibration import expected_calibration_error


def main(argv=None):
    parser = add_repository_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.set_defaults(quick=True)
    args = parser.parse_args(argv)
    X_train, y_train, X_test, y_test = load_split(args)
    clf = TokenSparseClassifier(args.model, max_epochs=args.max_epochs, batch_size=args.batch_size,
                                validation_fraction=0.1, calibrate=True, device=args.device,
                                random_state=args.seeds[0])
    clf.fit(X_train, y_train)
    calibrated = clf.predict_proba(X_test)
    temperature, clf.temperature_ = clf.temperature_, 1.0
    raw = clf.predict_proba(X_test)
    print(f"{len(X_train)} training texts (10% held out for the temperature), "
          f"{len(X_test)} test texts; temperature {temperature:.3f}\n")
    print("| probabilities | accuracy | ECE (15 bins) | log-loss |\n|---|---|---|---|")
    for name, proba in [("raw", raw), ("temperature-scaled", calibrated)]:
        predicted = clf.classes_[proba.argmax(axis=1)]
        print(f"| {name} | {accuracy_score(y_test, predicted):.4f} | "
              f"{expected_calibration_error(y_test, proba, clf.classes_):.4f} | "
              f"{log_loss(y_test, proba, labels=clf.classes_):.4f} |")


if __name__ == "__main__":
    main()
