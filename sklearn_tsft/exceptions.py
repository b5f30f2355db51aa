"""The package's own exceptions, in one place."""


class ModelFormatError(ValueError):
    """A saved model directory that cannot be loaded as it is."""


class FitInterrupted(Exception):
    """Raised instead of skorch's silent stop when training is interrupted."""


class NonFiniteLoss(ValueError):
    """Training produced a NaN or infinite loss; the fit is abandoned."""


class TableError(ValueError):
    """A table that cannot be read, or lacks a column the caller needs."""


class HubUnreachable(OSError):
    """The Hugging Face Hub cannot be reached to download a model."""
