"""Optional dependencies: import one, or say which extra installs it."""


def import_optional(module, extra, needed_by):
    """Import ``module``, or raise an ImportError that names the pip extra to install.

    Parameters
    ----------
    module : str
        The top-level module to import, e.g. ``"peft"``.
    extra : str
        The ``sklearn-tsft[extra]`` that installs it.
    needed_by : str
        What needs it, to start the message, e.g. ``"strategy='lora'"``.
    """
    try:
        # The import statement's hook, so that tests can make it fail.
        return __import__(module)
    except ImportError as exc:
        raise ImportError(
            f"{needed_by} needs the {module} library: pip install 'sklearn-tsft[{extra}]'."
        ) from exc
