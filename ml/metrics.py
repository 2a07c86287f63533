"""How close a colorization is to the original colour photo, and how colourful it is.

Every function takes two RGB images of the same size, the prediction first and the ground truth
second, as PIL images or numpy arrays of shape (H, W, 3): uint8 in 0-255 or float in [0, 1].
Colour maths uses scikit-image (Lab with the D65 white, CIEDE2000), the reference the study that
Coloria grew out of scored with; its headline number is the mean ΔE00 per image.

ΔE00 alone is a poor judge of colorization: a photo left grey is never very far from the truth,
while a vivid wrong colour is far. So a report always shows the "leave it grey" baseline
(`grey_baseline`: the photo's lightness with a = b = 0) beside the models, and colourfulness
(Hasler & Süsstrunk 2003) of output and truth, which shows whether a good ΔE00 was bought with
dull output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity

from ml.color import Chroma, compose, gray_image, to_gray

# Identical images have infinite PSNR; a number is friendlier to means, tables and JSON. 100 dB
# is above anything real 8-bit differences give on normal photos (one pixel off by one level in a
# 1000 x 1000 image is about 113 dB, so that extreme case reads as 100 too): read it as "same".
PSNR_CAP_DB = 100.0

# A pixel counts as "wrong colour" when its chroma is more than 10 ab units from the truth's. The
# just-noticeable difference in Lab is about 2.3 units, so 10 (over four JNDs) means a colour a
# viewer calls different, not a slightly different shade; it is also the middle of the 0-150
# range over which Zhang et al. (2016) accumulate their ab-error curve, where most of the
# difference between models lies.
AB_ERROR_THRESHOLD = 10.0

# SSIM's window (scikit-image's default 7 x 7 uniform window, the setting most colorization
# papers report); images smaller than that use the largest odd window that fits.
SSIM_WINDOW = 7

RGBImage = np.ndarray | Image.Image


@dataclass(frozen=True)
class MetricInfo:
    """How to show a metric: its label, unit and which direction is better."""

    label: str
    # "lower" or "higher"; "closer to 0" for signed differences; "reference" for a value of the
    # original photos, shown beside the models' but not a score of theirs.
    better: str
    unit: str
    description: str


# The metrics `score` returns, in table order.
METRICS: dict[str, MetricInfo] = {
    "delta_e00": MetricInfo(
        "ΔE00", "lower", "", "mean CIEDE2000 colour difference per pixel, output vs original"
    ),
    "psnr": MetricInfo(
        "PSNR", "higher", "dB", f"on RGB, identical images capped at {PSNR_CAP_DB:g}"
    ),
    "ssim": MetricInfo("SSIM", "higher", "", "structural similarity on RGB, mean over channels"),
    "colourfulness": MetricInfo(
        "Colourfulness",
        "closer to the original",  # duller is the common failure, but garish is no better
        "",
        "Hasler & Süsstrunk (2003) colourfulness of the output",
    ),
    "colourfulness_truth": MetricInfo(
        "Colourfulness (original)", "reference", "", "colourfulness of the original colour photo"
    ),
    "colourfulness_diff": MetricInfo(
        "Colourfulness difference",
        "closer to 0",
        "",
        "output minus original colourfulness: negative means duller than the original",
    ),
    "ab_error_share": MetricInfo(
        f"Pixels with ab error > {AB_ERROR_THRESHOLD:g}",
        "lower",
        "%",
        f"share of pixels whose Euclidean ab error exceeds {AB_ERROR_THRESHOLD:g}",
    ),
}


def as_float_rgb(image: RGBImage) -> np.ndarray:
    """An RGB image as float64 in [0, 1], shape (H, W, 3); refuses anything ambiguous."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), not {array.shape}")
    if array.dtype == np.uint8:
        return array.astype(np.float64) / 255.0
    if np.issubdtype(array.dtype, np.floating):
        # Float images in 0-255 would silently give nonsense (every colour saturated): refuse.
        if array.size and (np.nanmin(array) < -1e-6 or np.nanmax(array) > 1 + 1e-6):
            raise ValueError("float RGB images must have values in [0, 1]")
        return np.clip(array.astype(np.float64), 0.0, 1.0)
    raise ValueError(f"RGB images must be uint8 or float, not {array.dtype}")


def as_uint8_rgb(image: RGBImage) -> np.ndarray:
    """An RGB image as uint8, shape (H, W, 3)."""
    if isinstance(image, np.ndarray) and image.dtype == np.uint8:
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"expected an RGB image of shape (H, W, 3), not {image.shape}")
        return image
    return np.round(as_float_rgb(image) * 255.0).astype(np.uint8)


def _pair(pred: RGBImage, truth: RGBImage) -> tuple[np.ndarray, np.ndarray]:
    p, t = as_float_rgb(pred), as_float_rgb(truth)
    if p.shape != t.shape:
        raise ValueError(f"prediction {p.shape[:2]} and truth {t.shape[:2]} differ in size")
    return p, t


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 between Lab colours (..., 3), elementwise, with kL = kC = kH = 1."""
    return deltaE_ciede2000(np.asarray(lab1, np.float64), np.asarray(lab2, np.float64))


def delta_e00_map(pred: RGBImage, truth: RGBImage) -> np.ndarray:
    """Per-pixel ΔE00 between output and truth, shape (H, W)."""
    p, t = _pair(pred, truth)
    return ciede2000(rgb2lab(p), rgb2lab(t))


def delta_e00(pred: RGBImage, truth: RGBImage) -> float:
    """Mean ΔE00 over the image's pixels: the study's per-image score (lower is better)."""
    return float(delta_e00_map(pred, truth).mean())


def psnr(pred: RGBImage, truth: RGBImage, *, cap: float = PSNR_CAP_DB) -> float:
    """Peak signal-to-noise ratio on RGB in dB, over all pixels and channels, at most `cap`."""
    p, t = _pair(pred, truth)
    mse = float(np.mean((p - t) ** 2))
    if mse == 0.0:
        return cap
    return min(cap, 10.0 * np.log10(1.0 / mse))


def ssim(pred: RGBImage, truth: RGBImage) -> float:
    """Structural similarity on RGB (mean of the per-channel SSIM); 1 for identical images."""
    p, t = _pair(pred, truth)
    side = min(p.shape[:2])
    window = min(SSIM_WINDOW, side if side % 2 else side - 1)
    if window < 3:
        raise ValueError(f"image of {p.shape[1]} x {p.shape[0]} pixels is too small for SSIM")
    return float(structural_similarity(p, t, channel_axis=-1, data_range=1.0, win_size=window))


def colourfulness(image: RGBImage) -> float:
    """Hasler & Süsstrunk's (2003) colourfulness M on 0-255 values: 0 for grey, ~100+ vivid.

    rg = R - G, yb = (R + G) / 2 - B,
    M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 * sqrt(mean(rg)^2 + mean(yb)^2),
    with population standard deviations and means over all pixels.
    """
    rgb = as_float_rgb(image) * 255.0
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    spread = np.sqrt(rg.std() ** 2 + yb.std() ** 2)
    offset = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(spread + 0.3 * offset)


def colourfulness_difference(pred: RGBImage, truth: RGBImage) -> float:
    """Colourfulness of the output minus that of the truth: below 0 means duller than the truth."""
    p, t = _pair(pred, truth)
    return colourfulness(p) - colourfulness(t)


def _ab_error(lab_pred: np.ndarray, lab_true: np.ndarray) -> np.ndarray:
    return np.hypot(lab_pred[..., 1] - lab_true[..., 1], lab_pred[..., 2] - lab_true[..., 2])


def ab_error_share(
    pred: RGBImage, truth: RGBImage, *, threshold: float = AB_ERROR_THRESHOLD
) -> float:
    """Percentage (0-100) of pixels whose Euclidean error in the a, b plane exceeds `threshold`."""
    p, t = _pair(pred, truth)
    return float(np.mean(_ab_error(rgb2lab(p), rgb2lab(t)) > threshold) * 100.0)


def score(
    pred: RGBImage, truth: RGBImage, *, ab_threshold: float = AB_ERROR_THRESHOLD
) -> dict[str, float]:
    """Every metric in `METRICS` for one output and its truth (Lab computed once for both)."""
    p, t = _pair(pred, truth)
    lab_p, lab_t = rgb2lab(p), rgb2lab(t)
    colour_p, colour_t = colourfulness(p), colourfulness(t)
    return {
        "delta_e00": float(ciede2000(lab_p, lab_t).mean()),
        "psnr": psnr(p, t),
        "ssim": ssim(p, t),
        "colourfulness": colour_p,
        "colourfulness_truth": colour_t,
        "colourfulness_diff": colour_p - colour_t,
        "ab_error_share": float(np.mean(_ab_error(lab_p, lab_t) > ab_threshold) * 100.0),
    }


def gray_version(truth: RGBImage) -> np.ndarray:
    """The 8-bit grayscale photo a model is given in evaluation, shape (H, W), uint8.

    The truth's luminance as `ml.color.to_gray` computes it for any colour upload, rounded to
    8 bits as a scanned black-and-white photo would be.
    """
    rgb = as_uint8_rgb(truth)
    return np.asarray(gray_image(to_gray(Image.fromarray(rgb, mode="RGB"))))


def colorize_neutral(gray: np.ndarray) -> np.ndarray:
    """What a model that adds no colour returns for an 8-bit gray photo: ab = 0, uint8 RGB.

    Built with the same `compose` every model's output goes through, so it has exactly the
    lightness the models' outputs have.
    """
    values = np.asarray(gray, dtype=np.float32) / 255.0
    zeros = np.zeros((*values.shape, 2), dtype=np.float32)
    return np.asarray(compose(values, Chroma(ab=zeros)))


def grey_baseline(truth: RGBImage) -> np.ndarray:
    """The trivial "leave it grey" colorization of a colour photo: its L, with a = b = 0.

    Every model must beat this: ΔE00 rewards dull output, and grey is the dullest there is.
    """
    return colorize_neutral(gray_version(truth))
