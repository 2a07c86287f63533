"""Process-wide settings of the `ml` package: where weights live, which device to use and how
many loaded models a process keeps.

Defaults come from the environment (COLORIA_WEIGHTS_DIR, COLORIA_DEVICE, COLORIA_MODEL_CACHE_MB,
COLORIA_MODEL_TTL) so the package works on its own; a host application (the Django site) calls
`configure()` with its own settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# Own-trained weights that ship inside the repository, so a fresh install colorizes offline.
SHIPPED_WEIGHTS_DIR = PACKAGE_DIR / "shipped"

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class MLSettings:
    weights_dir: Path
    device: str = "auto"
    # Catalogue modules of families kept outside ml/catalogue/ (importable names), loaded with it.
    extra_catalogues: tuple[str, ...] = ()
    # Loaded models a process keeps (ml.runtime): at most this many megabytes of weights, least
    # recently used unloaded first (0: no limit), and none left unused for longer than this many
    # seconds (0: kept for ever).
    model_cache_mb: float = 0
    model_ttl: float = 0


def _from_environment() -> MLSettings:
    default_dir = PACKAGE_DIR.parent / "weights"
    device = os.environ.get("COLORIA_DEVICE", "auto").strip().lower() or "auto"
    if device not in DEVICES:
        raise ValueError(f"COLORIA_DEVICE must be one of {', '.join(DEVICES)}, not {device!r}")
    extra = os.environ.get("COLORIA_EXTRA_CATALOGUES", "")
    return MLSettings(
        weights_dir=Path(os.environ.get("COLORIA_WEIGHTS_DIR") or default_dir),
        device=device,
        extra_catalogues=tuple(name.strip() for name in extra.split(",") if name.strip()),
        model_cache_mb=_non_negative("COLORIA_MODEL_CACHE_MB"),
        model_ttl=_non_negative("COLORIA_MODEL_TTL"),
    )


def _non_negative(name: str) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else 0.0
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None
    if not value >= 0:  # also refuses nan
        raise ValueError(f"{name} must be 0 or more, not {raw!r}")
    return value


settings = _from_environment()


def configure(
    *,
    weights_dir: Path | str | None = None,
    device: str | None = None,
    model_cache_mb: float | None = None,
    model_ttl: float | None = None,
) -> MLSettings:
    """Change the package's settings; returns the new settings."""
    global settings
    changes: dict = {}
    for name, value in (("model_cache_mb", model_cache_mb), ("model_ttl", model_ttl)):
        if value is not None:
            if not value >= 0:
                raise ValueError(f"{name} must be 0 or more, not {value!r}")
            changes[name] = float(value)
    if weights_dir is not None:
        changes["weights_dir"] = Path(weights_dir)
    if device is not None:
        if device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
        changes["device"] = device
    settings = replace(settings, **changes)
    return settings
