"""Each strategy declares its parameters; the estimator, its docs and the CLI agree with them."""

import inspect
import re
from pathlib import Path

import pytest

from sklearn_tsft import TokenSparseClassifier
from sklearn_tsft.strategies import STRATEGIES, strategy_parameters

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SIGNATURE = inspect.signature(TokenSparseClassifier.__init__).parameters
DECLARED = strategy_parameters()


def test_every_strategy_parameter_is_an_estimator_parameter_with_its_default():
    assert DECLARED
    for name, by_strategy in DECLARED.items():
        for parameter in by_strategy.values():
            assert SIGNATURE[name].default == parameter.default, name


def test_the_estimator_checks_them_with_the_declared_constraint():
    for name, by_strategy in DECLARED.items():
        declared = next(iter(by_strategy.values())).constraint
        assert TokenSparseClassifier._parameter_constraints[name] is declared


def documented_defaults():
    """``{name: (default as written, description)}`` from the docstring's Parameters.

    An entry may name several parameters (``lora_r, lora_alpha : int, float,
    default=8, 16``); their defaults are then listed in the same order.
    """
    docscrape = pytest.importorskip("numpydoc.docscrape")
    entries = {}
    for item in docscrape.ClassDoc(TokenSparseClassifier)["Parameters"]:
        names = [name.strip() for name in item.name.split(",")]
        written = item.type.split("default=")[1]
        defaults = [d.strip() for d in written.split(",")] if len(names) > 1 else [written]
        for name, default in zip(names, defaults):
            entries[name] = (default, " ".join(item.desc))
    return entries


def shown(value):
    return f'"{value}"' if isinstance(value, str) else repr(value)


def test_the_docstring_gives_each_its_default_and_each_strategy_that_reads_it():
    entries = documented_defaults()
    for name, by_strategy in DECLARED.items():
        default, text = entries[name]
        assert default == shown(next(iter(by_strategy.values())).default), name
        for strategy in by_strategy:
            assert f"``{strategy}``" in text, (name, strategy)


def test_every_parameter_of_a_strategy_reaches_it():
    from sklearn_tsft.strategies import make_strategy

    params = TokenSparseClassifier().get_params()
    for name, cls in STRATEGIES.items():
        strategy = make_strategy(name, params)
        for parameter in cls.parameters:
            assert getattr(strategy, parameter.name) == params[parameter.name]


def test_the_user_guide_holds_the_table_written_from_the_declarations():
    from sklearn_tsft.strategies import parameter_table

    guide = (Path(__file__).resolve().parents[1] / "docs" / "user_guide.md").read_text()
    assert parameter_table() in guide


def readme_defaults():
    """``{name: default as written}`` from the README's parameter table."""
    found = {}
    for line in README.splitlines():
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`(\w+)`", cells[0])
        defaults = [d.strip().strip("`") for d in cells[1].split(",")]
        if len(names) == len(defaults):
            found.update(zip(names, defaults))
    return found


def test_the_readme_table_gives_every_parameter_with_the_estimators_default():
    written = readme_defaults()
    for name, value in TokenSparseClassifier().get_params().items():
        assert name in written, f"README's table lacks {name}"
        if isinstance(value, str):
            assert written[name] == f'"{value}"', name
        elif value is None or isinstance(value, bool):
            assert written[name] == str(value), name
        else:
            assert float(written[name]) == value, name
