"""Declared constraints on the estimator's parameters, and ``NAME=VALUE`` parsing.

The estimator lists one constraint per constructor parameter (its
``_parameter_constraints`` table) and checks them all at the very start of
``fit``, before the backbone loads or a text is tokenized. Each constraint
raises an error that names the parameter, the value and what is allowed.

These are small classes of our own rather than scikit-learn's private
``sklearn.utils._param_validation``: that module's API changes between
releases (we support scikit-learn 1.6 onwards), and its messages cannot say
what a value means (``n_layers=None`` is "all blocks"). The interval checks
go through the public :func:`sklearn.utils.check_scalar`, so their messages
read as scikit-learn's.
"""

import ast
import math
import numbers

import numpy as np
from sklearn.utils import check_scalar


class Interval:
    """A finite int or float in a range (``check_scalar``'s rules and messages).

    Parameters
    ----------
    kind : type
        ``numbers.Integral`` or ``numbers.Real``.
    low, high : float or None
        Bounds; None for none.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which bounds are allowed values.
    """

    def __init__(self, kind, low, high, closed="both"):
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def accepts_type(self, value):
        return isinstance(value, self.kind) and not isinstance(value, (bool, np.bool_))

    def check(self, name, value):
        if isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be an instance of {self.kind.__name__}, not bool.")
        check_scalar(value, name, self.kind, min_val=self.low, max_val=self.high,
                     include_boundaries=self.closed)
        if not math.isfinite(value):
            raise ValueError(f"{name}={value!r} is not finite; give a finite number.")


class Options:
    """One of a few fixed values.

    Parameters
    ----------
    *values
        The allowed values.
    message : str, optional
        Format of the error, with ``{name}``, ``{value!r}`` and ``{values}``.
    """

    def __init__(self, *values, message="{name} must be one of {values}, got {value!r}."):
        self.values, self.message = values, message

    def check(self, name, value):
        # isinstance, so that numpy strings pass as strings; `is` for None.
        if not any(value is allowed or (isinstance(value, type(allowed)) and value == allowed)
                   for allowed in self.values):
            raise ValueError(self.message.format(name=name, value=value, values=self.values))


class Boolean:
    """True or False (numpy's too)."""

    def check(self, name, value):
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False, got {value!r}.")


class InstanceOf:
    """An instance of one of ``types``, described as ``description`` in errors."""

    def __init__(self, *types, description):
        self.types, self.description = types, description

    def check(self, name, value):
        if not isinstance(value, self.types):
            raise TypeError(f"{name} must be {self.description}, got {value!r}.")


class Checked:
    """A value that ``function(value)`` accepts (it raises its own clear error otherwise)."""

    def __init__(self, function):
        self.function = function

    def check(self, name, value):
        self.function(value)


class AnyOf:
    """A value that one of ``constraints`` allows.

    When none does and the value is a number of an :class:`Interval`'s
    kind, the interval explains why (``lr=0.0``: "lr == 0.0, must be > 0"),
    unless ``explain_range`` is False; otherwise the error says ``{name}
    must be {description}``.
    """

    def __init__(self, *constraints, description, explain_range=True):
        self.constraints, self.description = constraints, description
        self.explain_range = explain_range

    def check(self, name, value):
        out_of_range = None
        for constraint in self.constraints:
            try:
                constraint.check(name, value)
                return
            except (TypeError, ValueError) as exc:
                if (self.explain_range and isinstance(constraint, Interval)
                        and constraint.accepts_type(value)):
                    out_of_range = exc
        if out_of_range is not None:
            raise out_of_range
        raise ValueError(f"{name} must be {self.description}, got {value!r}.")


NONE = Options(None)


def check_parameters(constraints, params):
    """Check every parameter in ``params`` against its entry in ``constraints``.

    Parameters
    ----------
    constraints : dict of str to constraint
    params : dict
        The estimator's ``get_params(deep=False)``.
    """
    for name, value in params.items():
        constraints[name].check(name, value)


def parse_assignment(text):
    """``NAME=VALUE`` as ``(name, value)``: a Python literal, else the bare string.

    Shared by ``tsft fit --param`` and the benchmark's run specs.

    Examples
    --------
    >>> parse_assignment("n_layers=None"), parse_assignment("strategy=lora")
    (('n_layers', None), ('strategy', 'lora'))
    """
    name, sep, value = text.partition("=")
    if not (name and sep):
        raise ValueError(f"{text!r}: write NAME=VALUE, e.g. lora_r=16")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def parse_epochs(text):
    """A ``--max-epochs`` option: ``"auto"`` or a positive int.

    Examples
    --------
    >>> parse_epochs("auto"), parse_epochs("3")
    ('auto', 3)
    """
    if text == "auto":
        return text
    epochs = int(text)
    if epochs < 1:
        raise ValueError(f"max_epochs must be 'auto' or a positive int, got {text!r}")
    return epochs
