"""Compare every strategy and the TF-IDF baselines on one dataset (same as ``tsft bench``).

Run from the repository root; see ``python benchmarks/compare.py --help``
and ``docs/benchmarks.md``. The quick form, under 20 minutes on two CPU
cores::

    python benchmarks/compare.py --quick
"""

from sklearn_tsft.benchmark import main

if __name__ == "__main__":
    main()
