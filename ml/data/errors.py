"""Errors the photo-set builder raises on purpose, each with a message a person can act on.

The CLI prints `str(error)` and exits with status 2, so every message names the package, the
member or the command involved instead of relying on a traceback.
"""

from __future__ import annotations


class PhotoSetError(Exception):
    """Base class: the photo set cannot be built as the manifest describes."""


class ManifestError(PhotoSetError):
    """The manifest file is missing or malformed."""


class FetchError(PhotoSetError):
    """A package could not be fetched (the message names the package and the command)."""


class ArchiveError(PhotoSetError):
    """A package file (or a Qt resource bundle inside one) cannot be read."""


class MissingMemberError(PhotoSetError):
    """A member listed in the manifest is not in the package served."""


class ChangedFileError(PhotoSetError):
    """A member's bytes differ from the SHA-256 the manifest lists."""
