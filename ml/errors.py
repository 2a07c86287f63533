"""Errors that `ml` raises on purpose, each with a message a person can act on.

The web layer shows `str(error)` to users, so every message here is written for them.
"""


class ColorizeError(Exception):
    """Base class: something about this request or this installation prevents colorizing."""


class UnknownModel(ColorizeError):
    pass


class InvalidParameters(ColorizeError):
    pass


class InvalidImage(ColorizeError):
    pass


class WeightsNotInstalled(ColorizeError):
    pass


class WeightsInvalid(ColorizeError):
    pass


class OutOfMemory(ColorizeError):
    pass


class WeightsFetchError(ColorizeError):
    """Downloading or importing a weights file failed (no network, wrong hash, disk full...)."""


def os_error_message(exc: OSError) -> str:
    """`PATH: reason` for a file or folder that could not be read or written (a folder given
    where a file is, a full disk, no permission), for command-line tools to print."""
    if exc.filename is None:
        return str(exc)
    return f"{exc.filename}: {exc.strerror or exc}"
