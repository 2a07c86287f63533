"""The model families Coloria knows: one module per family, each holding the family's weight
files, its model specs and its family record (pure data; see ml.registry).

`load()` imports every module of this package, then the extra catalogues named in the
COLORIA_EXTRA_CATALOGUES setting (families kept outside Coloria's tree); `ml` calls it once on
import. A new family is a new module here (with its network in ml/models/ and its training
pipeline in ml/train/): nothing else needs editing.
"""

from __future__ import annotations

import importlib
import pkgutil

from ml import config

_loaded: set[str] = set()


def load() -> None:
    """Register every family (once per process)."""
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        load_module(f"{__name__}.{module.name}")
    for name in config.settings.extra_catalogues:
        load_module(name)


def load_module(name: str) -> None:
    """Register the families of one catalogue module (an importable name) once."""
    if name not in _loaded:
        importlib.import_module(name)
        _loaded.add(name)
