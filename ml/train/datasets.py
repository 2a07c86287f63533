"""Photos for training: any folder of colour images (the offline photo set, ImageNet, your own).

Images are decoded once, shrunk so their short side is a small multiple of the crop size, and kept
in memory as uint8: the photo set is small, and re-decoding large JPEGs would dominate CPU time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ml.color import open_image, rgb_to_lab

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


def list_images(folder: Path | str) -> list[Path]:
    """Every image file below `folder`, sorted so runs are reproducible."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no such folder of images: {folder}")
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise FileNotFoundError(f"no images (jpg, png, webp, bmp, tif) below {folder}")
    return found


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk's colourfulness of uint8 RGB (0 for gray photos)."""
    rgb = rgb.astype(np.float32)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def load_photos(
    paths: Sequence[Path], short_side: int, *, min_colourfulness: float = 0.0
) -> list[np.ndarray]:
    """Decode, shrink and keep the colour photos (uint8 RGB). Gray or unreadable ones are skipped
    (a gray photo teaches a colorizer nothing but grey)."""
    photos = []
    for path in paths:
        try:
            image = open_image(path).convert("RGB")
        except Exception:  # noqa: S112 - an unreadable file is skipped, not fatal
            continue
        scale = short_side / min(image.size)
        if scale < 1:
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.BICUBIC)
        array = np.asarray(image)
        if colourfulness(array) >= max(min_colourfulness, 1e-3):
            photos.append(array)
    return photos


def random_crop(
    photo: np.ndarray, size: int, rng: np.random.Generator, scale: tuple[float, float]
) -> np.ndarray:
    """A random square crop covering `scale` of the short side, resized to size, maybe flipped."""
    height, width = photo.shape[:2]
    side = int(min(height, width) * rng.uniform(*scale))
    side = max(side, min(8, height, width))
    top = int(rng.integers(0, height - side + 1))
    left = int(rng.integers(0, width - side + 1))
    crop = Image.fromarray(photo[top : top + side, left : left + side])
    crop = crop.resize((size, size), Image.BICUBIC)
    array = np.asarray(crop)
    return array[:, ::-1] if rng.random() < 0.5 else array


def centre_crop(photo: np.ndarray, size: int) -> np.ndarray:
    height, width = photo.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = Image.fromarray(photo[top : top + side, left : left + side])
    return np.asarray(crop.resize((size, size), Image.BICUBIC))


def lab_batch(crops: Sequence[np.ndarray]) -> np.ndarray:
    """uint8 RGB crops -> float32 Lab, shape (N, 3, H, W)."""
    lab = np.stack([rgb_to_lab(c.astype(np.float32) / 255.0) for c in crops])
    return np.ascontiguousarray(lab.transpose(0, 3, 1, 2))


def load_splits(data_cfg: dict, *, short_side: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The training photos (shrunk to `short_side`, optionally without near-grey ones) and up to
    `val_limit` validation photos at 256 px, from a config's [data] section."""
    train = load_photos(
        list_images(data_cfg["train"]), int(data_cfg.get("short_side", short_side)),
        min_colourfulness=float(data_cfg.get("min_colourfulness", 0)),
    )  # fmt: skip
    val_folder = data_cfg.get("val")
    val = load_photos(list_images(val_folder), 256) if val_folder else []
    return train, val[: int(data_cfg.get("val_limit", 100))]
