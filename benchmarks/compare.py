"""Compare every strategy and the TF-IDF baselines on one dataset of ``../shared/data``.

``tsft bench`` on this repository's data, with the results section of
``docs/benchmarks.md`` rewritten. Run from the repository root; see
``python benchmarks/compare.py --help``. The quick form, under 20 minutes
on two CPU cores::

    python benchmarks/compare.py --quick
"""

import argparse

from repository import add_repository_arguments, update_docs
from sklearn_tsft.benchmark import run


def markdown_section(result, args):
    """A markdown section on one run of :func:`run`: its command, sizes and table."""
    table = (args.out_dir / f"{result['stem']}.md").read_text().strip()
    return (f"### {result['stem']}\n\n`{result['command']}`: {result['n_train']} training "
            f"texts, {result['n_test']} test texts, {result['n_labels']} labels, "
            f"{args.max_epochs} epochs, batch size {args.batch_size}, seeds "
            f"{', '.join(map(str, args.seeds))}.\n\n{table}\n")


def main(argv=None):
    parser = add_repository_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    args = parser.parse_args(argv)
    log = (lambda *_: None) if args.quiet else print
    result = run(args, log=log)
    if str(args.docs_file) != "none":
        update_docs(args.docs_file, result["stem"], markdown_section(result, args))
        log(f"wrote {args.docs_file}")
    return result


if __name__ == "__main__":
    main()
