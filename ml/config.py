"""Process-wide settings of the `ml` package: where weights live and which device to use.

Defaults come from the environment (COLORIA_WEIGHTS_DIR, COLORIA_DEVICE) so the package works on
its own; a host application (the Django site) calls `configure()` with its own settings.
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
    )


settings = _from_environment()


def configure(*, weights_dir: Path | str | None = None, device: str | None = None) -> MLSettings:
    """Change the package's settings; returns the new settings."""
    global settings
    changes: dict = {}
    if weights_dir is not None:
        changes["weights_dir"] = Path(weights_dir)
    if device is not None:
        if device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
        changes["device"] = device
    settings = replace(settings, **changes)
    return settings
