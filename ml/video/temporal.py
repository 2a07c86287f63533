"""Steady colour across frames: smoothing the predicted chroma over time, scene cuts, flicker.

A network colours each frame on its own, so a wall that is beige in one frame may be pinkish in
the next: the film flickers. The predicted chroma (the model's a, b or U, V at its working size)
is therefore blended with the previous frame's smoothed chroma:

    smoothed[t] = s * previous + (1 - s) * predicted[t]        (s = `smoothing`, 0 = off)

"ema" blends the previous chroma where it was; "flow" first moves it along the optical flow from
the previous frame to this one (scikit-image's iterative Lucas-Kanade, `optical_flow_ilk`, on the
gray frame at most FLOW_SIDE pixels wide), and trusts it less where the moved previous frame's
gray differs from this frame's (something appeared that was hidden), so colour follows moving
things instead of trailing behind them. At a scene cut the blend starts again from the new
frame's own prediction.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PIL import Image

SMOOTHING_METHODS = ("ema", "flow")
# A scene cut: the luminance histograms (HIST_BINS bins, as fractions of the frame) of two
# consecutive frames differ by more than CUT_THRESHOLD in total variation distance, half the sum
# of the bins' absolute differences: 0 for the same tones, 1 for tones that do not overlap at
# all. Within a shot, motion, grain and fades move it by a few hundredths (0.02-0.1 on film); a
# cut to another shot by 0.3 and more.
HIST_BINS = 64
CUT_THRESHOLD = 0.3
FLOW_SIDE = 128  # the largest side the optical flow works at (colour needs no more)
# How far (gray values in [0, 1]) the moved previous frame may differ from this one before the
# previous colour is trusted less: weight exp(-(difference / OCCLUSION_SCALE)^2).
OCCLUSION_SCALE = 0.08


def flicker(frames_ab: Iterable[np.ndarray], cuts: Iterable[int] = ()) -> float | None:
    """Mean |Δab| between consecutive frames: the mean absolute difference of their chroma
    (shape (h, w, 2), all frames the same size), over the pairs that do not straddle a scene cut
    (frame indices in `cuts` start a new shot). None with fewer than two frames."""
    skip = set(cuts)
    meter = FlickerMeter()
    for index, ab in enumerate(frames_ab):
        meter.add(ab, cut=index in skip)
    return meter.value


class FlickerMeter:
    """`flicker` one frame at a time, without keeping the frames."""

    def __init__(self) -> None:
        self.total, self.pairs = 0.0, 0
        self.previous: np.ndarray | None = None

    def add(self, ab: np.ndarray, cut: bool = False) -> None:
        ab = np.asarray(ab, dtype=np.float32)
        if self.previous is not None and not cut:
            self.total += float(np.abs(ab - self.previous).mean())
            self.pairs += 1
        self.previous = ab

    @property
    def value(self) -> float | None:
        return self.total / self.pairs if self.pairs else None


def histogram(gray: np.ndarray) -> np.ndarray:
    """Luminance histogram of gray values in [0, 1], as fractions of the frame."""
    counts, _ = np.histogram(gray, bins=HIST_BINS, range=(0.0, 1.0))
    return counts / max(gray.size, 1)


class SceneCuts:
    """Feeds on each frame's gray values; says whether the frame starts a new shot."""

    def __init__(self, threshold: float = CUT_THRESHOLD) -> None:
        self.threshold = threshold
        self.previous: np.ndarray | None = None

    def is_cut(self, gray: np.ndarray) -> bool:
        current = histogram(gray)
        cut = self.previous is not None and (
            0.5 * float(np.abs(current - self.previous).sum()) > self.threshold
        )
        self.previous = current
        return cut


def small_gray(gray: np.ndarray, height: int, width: int) -> np.ndarray:
    """Gray values resized (area-averaged when shrinking) to height × width, float32."""
    if gray.shape == (height, width):
        return gray.astype(np.float32, copy=False)
    image = Image.fromarray(gray.astype(np.float32), mode="F")
    return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)


class Smoother:
    """Blends each frame's predicted chroma with the previous smoothed chroma (see above)."""

    def __init__(self, strength: float, method: str = "ema") -> None:
        if not 0.0 <= strength < 1.0:
            raise ValueError("smoothing is between 0 (off) and 1 (not included)")
        if method not in SMOOTHING_METHODS:
            raise ValueError(f"smoothing method is one of {', '.join(SMOOTHING_METHODS)}")
        self.strength, self.method = float(strength), method
        self.previous: np.ndarray | None = None
        self.previous_gray: np.ndarray | None = None

    @property
    def label(self) -> str:
        return f"{self.method} {self.strength:g}" if self.strength else "off"

    def step(self, ab: np.ndarray, gray: np.ndarray, cut: bool) -> np.ndarray:
        """The smoothed chroma of this frame. `gray` is the frame's full gray; `cut` starts
        again from this frame's prediction."""
        ab = np.asarray(ab, dtype=np.float32)
        flow_gray = self._flow_gray(gray, ab.shape) if self.method == "flow" else None
        fresh = cut or self.previous is None or self.previous.shape != ab.shape
        if self.strength == 0 or fresh:
            out = ab
        elif self.method == "ema":
            out = self.strength * self.previous + (1 - self.strength) * ab
        else:
            moved, trust = self._moved_previous(flow_gray)
            weight = (self.strength * trust)[..., None]
            out = weight * moved + (1 - weight) * ab
        # Rounded as the work folder stores it (float16), so that a resumed run continues from
        # exactly the state an uninterrupted one had.
        out = np.asarray(out, dtype=np.float16).astype(np.float32)
        self.previous, self.previous_gray = out, flow_gray
        return out

    def carry(self, stored: np.ndarray, gray: np.ndarray) -> None:
        """Take a frame's smoothed chroma from an earlier run as the state, as `step` would."""
        stored = np.asarray(stored, dtype=np.float32)
        flow_gray = self._flow_gray(gray, stored.shape) if self.method == "flow" else None
        self.previous, self.previous_gray = stored, flow_gray

    def _flow_gray(self, gray: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        height, width = shape[:2]
        scale = min(1.0, FLOW_SIDE / max(height, width))
        return small_gray(gray, max(1, round(height * scale)), max(1, round(width * scale)))

    def _moved_previous(self, flow_gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The previous smoothed chroma moved to where its content is in this frame, and how far
        to trust it at each pixel (0-1), both at the chroma's size."""
        from scipy import ndimage
        from skimage.registration import optical_flow_ilk

        previous_gray = self.previous_gray
        if previous_gray is None or previous_gray.shape != flow_gray.shape:
            return self.previous, np.ones(self.previous.shape[:2], dtype=np.float32)
        # Where each pixel of this frame was in the previous one: previous(x + flow(x)).
        flow = optical_flow_ilk(flow_gray, previous_gray, radius=4, num_warp=2)
        rows, cols = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in flow_gray.shape),
                                 indexing="ij")  # fmt: skip
        where = np.stack([rows + flow[0], cols + flow[1]])
        moved_gray = ndimage.map_coordinates(previous_gray, where, order=1, mode="nearest")
        trust = np.exp(-(((moved_gray - flow_gray) / OCCLUSION_SCALE) ** 2)).astype(np.float32)
        height, width = self.previous.shape[:2]
        if flow_gray.shape != (height, width):  # the flow, in the chroma's pixels
            scale = np.array([height / flow_gray.shape[0], width / flow_gray.shape[1]])
            where = np.stack([_resize(flow[i], height, width) * scale[i] for i in (0, 1)])
            rows, cols = np.meshgrid(np.arange(height, dtype=np.float32),
                                     np.arange(width, dtype=np.float32), indexing="ij")  # fmt: skip
            where = np.stack([rows + where[0], cols + where[1]])
            trust = _resize(trust, height, width)
        moved = np.stack(
            [ndimage.map_coordinates(self.previous[..., c], where, order=1, mode="nearest")
             for c in (0, 1)], axis=-1,
        )  # fmt: skip
        return moved, np.clip(trust, 0.0, 1.0)


def _resize(values: np.ndarray, height: int, width: int) -> np.ndarray:
    image = Image.fromarray(values.astype(np.float32), mode="F")
    return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)
