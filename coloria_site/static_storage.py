"""The collected static files' storage (scripts/serve): WhiteNoise's, with addresses remembered."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from whitenoise.storage import CompressedManifestStaticFilesStorage

# Files a site links with {% static %}: a few dozen; the bound only guards against a caller that
# asks for ever-new names.
_MAX_KEPT = 1024


class CachedManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's compressed, hashed files, each file's address made once per process.

    Every `{% static %}` asks the storage for an address (each page links three files or more):
    each time it looks the name up in the manifest, then takes the URL apart and puts it back
    together, some 25 µs. The manifest is read once, when the storage is made, so a name's
    address stays the same until the files are collected again (post_process), which forgets
    them; the key holds what else the address depends on (DEBUG, STATIC_URL)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._urls: dict[tuple, str] = {}

    def url(self, name: str, force: bool = False) -> str:
        key = (name, force, settings.DEBUG, self.base_url)
        found = self._urls.get(key)
        if found is None:
            found = super().url(name, force)
            if len(self._urls) < _MAX_KEPT:
                self._urls[key] = found
        return found

    def post_process(self, *args: Any, **kwargs: Any):
        self._urls.clear()
        yield from super().post_process(*args, **kwargs)
        self._urls.clear()
