"""The photos an evaluation scores (colour photos only) and the checkpoints it can score."""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ml import config, runtime
from ml.color import open_image
from ml.errors import InvalidImage
from ml.evaluate.summary import IMAGE_SUFFIXES, EvaluationError, Photo
from ml.registry import all_specs, get_spec
from ml.weights import KNOWN_WEIGHTS, is_installed


def load_truth(path: Path) -> np.ndarray:
    """The ground truth: the photo as people see it (EXIF-oriented), RGB uint8."""
    return np.asarray(open_image(path).convert("RGB"))


def _is_colour(rgb: np.ndarray) -> bool:
    return not (
        np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
    )


def collect_photos(
    images: str | Path | Sequence[str | Path], limit: int | None = None
) -> tuple[list[Photo], list[dict[str, str]]]:
    """The colour photos to evaluate on, in a fixed order, and the files skipped (with why).

    A folder is searched recursively and sorted by relative path, so a run is repeatable; gray
    photos are skipped because there is no colour to compare with. `limit` counts used photos.
    """
    if isinstance(images, str | Path) and Path(images).is_dir():
        root = Path(images)
        candidates = sorted(
            (
                path
                for path in root.rglob("*")
                if path.suffix.lower() in IMAGE_SUFFIXES
                and path.is_file()
                and not any(part.startswith(".") for part in path.relative_to(root).parts)
            ),
            key=lambda path: path.relative_to(root).as_posix(),
        )
        entries = [Photo(path, path.relative_to(root).as_posix()) for path in candidates]
    else:
        paths = [images] if isinstance(images, str | Path) else list(images)
        entries = [Photo(Path(path), str(path)) for path in paths]
        for entry in entries:
            if not entry.path.is_file():
                raise EvaluationError(f"{entry.path} is not a file or folder")
    photos: list[Photo] = []
    skipped: list[dict[str, str]] = []
    for entry in entries:
        if limit is not None and len(photos) >= limit:
            break
        try:
            truth = load_truth(entry.path)
        except InvalidImage as exc:
            skipped.append({"image": entry.name, "reason": str(exc)})
            continue
        if not _is_colour(truth):
            skipped.append({"image": entry.name, "reason": "not a colour photo"})
            continue
        photos.append(entry)
    if not photos:
        raise EvaluationError(f"no colour photos found in {images}")
    return photos, skipped


def installed_models() -> list[str]:
    """Keys of every registered model whose weights are installed."""
    return [spec.key for spec in all_specs() if is_installed(spec.weights)]


@contextlib.contextmanager
def checkpoint_weights(model: str, checkpoint: str | Path) -> Iterator[Path]:
    """Make `model` load its weights from `checkpoint` inside the block.

    The weights lookup is pointed at a temporary folder holding a link, named as the model's
    weights file, to the checkpoint; models are unloaded on the way in and out so that neither
    this checkpoint nor the installed weights leak into the other's results.
    """
    spec = get_spec(model)
    checkpoint = Path(checkpoint).resolve()
    if not checkpoint.is_file():
        raise EvaluationError(f"checkpoint {checkpoint} does not exist")
    previous = config.settings
    with tempfile.TemporaryDirectory(prefix="coloria-checkpoint-") as folder:
        link = Path(folder) / KNOWN_WEIGHTS[spec.weights].filename
        try:
            link.symlink_to(checkpoint)
        except OSError:  # no symlinks (some Windows setups): a copy works the same
            shutil.copyfile(checkpoint, link)
        runtime.unload_all()
        config.configure(weights_dir=folder)
        try:
            yield link
        finally:
            config.settings = previous
            runtime.unload_all()


def epoch_numbers(paths: Sequence[Path]) -> list[int]:
    """The last number in each checkpoint's name (epoch_012.pth -> 12), else 1, 2, 3..."""
    found = [re.findall(r"\d+", path.stem) for path in paths]
    if all(found):
        numbers = [int(digits[-1]) for digits in found]
        if len(set(numbers)) == len(numbers):
            return numbers
    return list(range(1, len(paths) + 1))
