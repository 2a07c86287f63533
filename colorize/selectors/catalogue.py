"""The models as this server has them: which registry models have their weights installed, and
the cards of the shipped weights. Pages read them on every request (the upload form, a result's
"try another model", the API's model list); finding them means a few dozen file checks and
reading every card's JSON, so each process keeps what it found while nothing it depends on
changed.

What it depends on, checked on every read (cheaply: a sorted list and two `stat`s): the
registry's models (a catalogue loaded or a spec replaced), the weights directories in use
(`ml.configure`, `ml.config.SHIPPED_WEIGHTS_DIR`) and their modification times, which change
when a weights file is installed, imported or removed there (`fetch_weights` and
`import_weights` write into the directory). A directory changed within the last
`SETTLE_SECONDS` is not trusted yet: a second change within the filesystem's timestamp
resolution would leave the same time, so until then every read looks again.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import ml
from ml import config
from ml.cards import Card, recommended_model, shipped_cards
from ml.registry import ModelSpec
from ml.weights import is_installed, search_dirs

# Longer than any filesystem's timestamp resolution (ext4, XFS: nanoseconds; FAT, some network
# filesystems: 1 to 2 seconds).
SETTLE_SECONDS = 2.0


@dataclass(frozen=True)
class Catalogue:
    models: tuple[ModelSpec, ...]  # the registry's order
    installed: frozenset[str]  # keys of the models whose weights are installed
    cards: tuple[Card, ...]  # the shipped weights' cards (ml.cards)
    recommended: str | None  # ml.cards.recommended_model: the best shipped model that passes
    # What callers derive from this state alone (a rendered fragment of a page), kept with it and
    # so dropped with it when the state changes. Keys are the callers'.
    derived: dict = field(default_factory=dict, compare=False, repr=False)

    def card_for(self, model_key: str) -> Card | None:
        return next((card for card in self.cards if card.model == model_key), None)

    def is_installed(self, model_key: str) -> bool:
        return model_key in self.installed


_lock = threading.Lock()
_kept: tuple[tuple, Catalogue] | None = None


def _modified_ns(directory: Path) -> int | None:
    try:
        return os.stat(directory).st_mtime_ns
    except OSError:
        return None  # not there (yet): creating it changes the fingerprint too


def _fingerprint(models: tuple[ModelSpec, ...]) -> tuple[tuple, int]:
    """What the catalogue depends on, and the latest modification time among its directories."""
    directories = tuple(dict.fromkeys([*search_dirs(), config.SHIPPED_WEIGHTS_DIR]))
    times = tuple(_modified_ns(directory) for directory in directories)
    # The specs themselves (not only their keys): a replaced spec may name other weights. The
    # kept catalogue holds them, so their ids cannot be reused while it is kept.
    return (tuple(map(id, models)), directories, times), max(filter(None, times), default=0)


def current() -> Catalogue:
    """The catalogue as it is now (kept between requests while unchanged, see above)."""
    global _kept
    models = tuple(ml.list_models())
    fingerprint, latest_change = _fingerprint(models)
    kept = _kept
    if kept is not None and kept[0] == fingerprint:
        return kept[1]
    found = Catalogue(
        models=models,
        installed=frozenset(spec.key for spec in models if is_installed(spec.weights)),
        cards=tuple(shipped_cards()),
        recommended=recommended_model(),
    )
    if time.time_ns() - latest_change > SETTLE_SECONDS * 1e9:
        with _lock:
            _kept = (fingerprint, found)
    return found


def forget() -> None:
    """Drop what this process kept (the next read looks again)."""
    global _kept
    with _lock:
        _kept = None
