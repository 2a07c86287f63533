"""Known weight files: what each is, where it comes from, whether it is installed, and the
command that installs it. The model families' catalogue files (ml/catalogue/) register them; the
downloading and importing are in `ml.weights.install`, the command line in `python -m ml.weights`.

Official checkpoints are downloaded (`python -m ml.weights fetch`, or `python manage.py
fetch_weights`); own-trained weights ship inside the repository under `ml/shipped/`, and any local
file can be imported after a check of its hash or, without one, that it loads into its network.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ml import config
from ml.errors import WeightsFetchError


@dataclass(frozen=True)
class WeightFile:
    key: str
    filename: str
    network: str  # which network the file fits, e.g. "zhang-eccv16"
    licence: str
    urls: tuple[str, ...] = ()
    size: int | None = None
    sha256: str | None = None  # None for own-trained files, which are checked by loading them
    official: bool = True
    # torchvision publishes only the first hex digits of a file's SHA-256 (in its name).
    sha256_prefix: str | None = None
    purpose: str = "model"  # or "training": ImageNet backbones used by the training pipelines
    # Files this one is useless without (BigColor's averaged weights need the full checkpoint
    # for their buffers): fetched first, and the file counts as installed only with them.
    requires: tuple[str, ...] = ()
    # "module:function" that checks a training file which no model loads and whose checksum is not
    # published (BigGAN's starting points for BigColor): it raises WeightsInvalid unless the file
    # loads into the network it starts.
    loader: str | None = None


KNOWN_WEIGHTS: dict[str, WeightFile] = {}


def register_weights(entry: WeightFile) -> WeightFile:
    if entry.key in KNOWN_WEIGHTS:
        raise ValueError(f"weights key {entry.key!r} registered twice")
    if entry.purpose == "training" and not (entry.sha256 or entry.sha256_prefix or entry.loader):
        # No model spec loads a training file, so without these nothing could verify it.
        raise ValueError(f"training weights {entry.key!r} need a SHA-256 (or prefix) or a loader")
    KNOWN_WEIGHTS[entry.key] = entry
    return entry


def search_dirs() -> list[Path]:
    """Where weight files are looked for: the configured directory first, then shipped ones."""
    return [config.settings.weights_dir, config.SHIPPED_WEIGHTS_DIR]


def weights_path(key: str) -> Path | None:
    """The installed file for a weights key, or None when it (or a file it requires) is not
    installed."""
    entry = known(key)
    if not all(weights_path(required) for required in entry.requires):
        return None
    for directory in search_dirs():
        candidate = directory / entry.filename
        if candidate.is_file():
            return candidate
    return None


NO_WEIGHTS = ""  # the weights key of a model that needs none (the scribbles' solver)


def is_installed(key: str) -> bool:
    return key == NO_WEIGHTS or weights_path(key) is not None


def install_command(key: str) -> str:
    """The command that installs these weights: a download for official files; for own-trained
    ones (which ship with Coloria or are trained with python -m ml.train), an import."""
    entry = KNOWN_WEIGHTS[key]
    if entry.urls:
        return f"python manage.py fetch_weights {key}"
    return f"python manage.py import_weights {entry.filename} --model {key}"


def known(key: str) -> WeightFile:
    """The registry entry for a weights key, with a readable error for unknown keys."""
    try:
        return KNOWN_WEIGHTS[key]
    except KeyError:
        names = ", ".join(sorted(KNOWN_WEIGHTS))
        raise WeightsFetchError(f"Unknown weights {key!r}. Known weights: {names}.") from None


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
