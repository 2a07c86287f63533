"""Rich Zhang's colorization networks: ECCV16 ("Colorful Image Colorization") and SIGGRAPH17
("Real-Time User-Guided Image Colorization with Learned Deep Priors").

Module names and layer order follow the official PyTorch release exactly, so the official
state_dicts load with strict=True. ECCV16 classifies each pixel's ab into 313 bins and decodes the
distribution; SIGGRAPH17 regresses ab and accepts user colour hints (ab values plus a mask).
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from ml import inference
from ml.catalogue.zhang import TEMPERATURE
from ml.checkpoints import load_into
from ml.color import Chroma, gray_image, gray_to_lightness, resized, rgb_to_lab
from ml.registry import as_colour_points

L_CENT = 50.0  # L is fed to the network as (L - L_CENT) / L_NORM
L_NORM = 100.0
AB_NORM = 110.0  # ab leaves (and hints enter) the network divided by AB_NORM
WORKING_SIZE = 256
NUM_AB_BINS = 313

# The Caffe original sharpened the 313-bin distribution with an annealed mean at T = 0.38. The
# PyTorch release applies a plain softmax (T = 1), and that is Coloria's default so official
# weights reproduce the official PyTorch outputs; `temperature` lets a user anneal.
DEFAULT_TEMPERATURE = TEMPERATURE.default


def _conv(cin: int, cout: int, *, stride: int = 1, dilation: int = 1, kernel: int = 3) -> nn.Conv2d:
    pad = dilation if kernel == 3 else 0
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=pad, dilation=dilation, bias=True)


def _block(channels: list[int], *, last_stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """Convs (each followed by ReLU) and a closing BatchNorm: indices 0, 2, 4 ... then BN."""
    layers: list[nn.Module] = []
    pairs = list(pairwise(channels))
    for i, (cin, cout) in enumerate(pairs):
        stride = last_stride if i == len(pairs) - 1 else 1
        layers += [_conv(cin, cout, stride=stride, dilation=dilation), nn.ReLU(True)]
    layers.append(nn.BatchNorm2d(channels[-1]))
    return nn.Sequential(*layers)


def _scaled(width: float):
    """Channel counts for a width multiplier; width 1 is the official network."""

    def channels(n: int) -> int:
        return max(8, round(n * width))

    return channels


class ECCV16(nn.Module):
    """Input L in [0, 100], shape (N, 1, H, W); output ab (N, 2, H, W). H, W divisible by 8.

    `width` < 1 thins every hidden layer (same layer names, smaller shapes): a network small
    enough to train on a CPU. The official checkpoint needs width 1.
    """

    # Kept in float32 under `fast`'s bfloat16 (ml.inference): the first block sees the raw
    # lightness, whose bfloat16 rounding (2-3 significant digits) every later layer carries on.
    # In float32 (2 % of the multiply-adds) it took the Coloria-trained weights' largest
    # difference from exact from 2.4 to 0.25 ab units on 10 validation photos; the logit head
    # (model8, 19 %) changed it by 0.01.
    float32_modules = ("model1",)
    # Where `fast` in float32 may run 3 x 3 convolutions by Winograd's algorithm
    # (ml.winograd: those of 128 channels or more, 94 % of the multiply-adds at width 1).
    winograd_modules = ("model3", "model4", "model5", "model6", "model7", "model8")

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        c = _scaled(width)
        self.width = width
        self.model1 = _block([1, c(64), c(64)], last_stride=2)
        self.model2 = _block([c(64), c(128), c(128)], last_stride=2)
        self.model3 = _block([c(128), c(256), c(256), c(256)], last_stride=2)
        self.model4 = _block([c(256), c(512), c(512), c(512)])
        self.model5 = _block([c(512)] * 4, dilation=2)
        self.model6 = _block([c(512)] * 4, dilation=2)
        self.model7 = _block([c(512)] * 4)
        self.model8 = nn.Sequential(
            nn.ConvTranspose2d(c(512), c(256), 4, stride=2, padding=1, bias=True),
            nn.ReLU(True),
            _conv(c(256), c(256)),
            nn.ReLU(True),
            _conv(c(256), c(256)),
            nn.ReLU(True),
            _conv(c(256), NUM_AB_BINS, kernel=1),
        )
        self.model_out = nn.Conv2d(NUM_AB_BINS, 2, 1, bias=False)

    def logits(self, lightness: torch.Tensor) -> torch.Tensor:
        """The 313-bin scores at a quarter of the input size (what training supervises)."""
        x = (lightness - L_CENT) / L_NORM
        for block in (self.model1, self.model2, self.model3, self.model4, self.model5):
            x = block(x)
        for block in (self.model6, self.model7, self.model8):
            x = block(x)
        return x

    def decode(
        self, logits: torch.Tensor, temperature: float = DEFAULT_TEMPERATURE
    ) -> torch.Tensor:
        ab = self.model_out(torch.softmax(logits / temperature, dim=1))
        return nn.functional.interpolate(ab, scale_factor=4, mode="bilinear") * AB_NORM

    def forward(
        self,
        lightness: torch.Tensor,
        temperature: float = DEFAULT_TEMPERATURE,
        logits_only: bool = False,
    ) -> torch.Tensor:
        logits = self.logits(lightness)
        return logits if logits_only else self.decode(logits, temperature)


def _plain_block(channels: list[int], *, dilation: int = 1) -> nn.Sequential:
    return _block(channels, dilation=dilation)


class SIGGRAPH17(nn.Module):
    """Inputs: L in [0, 100] (N,1,H,W), hint ab (N,2,H,W) in ab units, mask (N,1,H,W) in {0, 1}.

    Output: ab (N, 2, H, W); H and W must be divisible by 8.
    """

    # Where `fast` in float32 may run 3 x 3 convolutions by Winograd's algorithm
    # (ml.winograd): the 256-512-channel middle, at 64 x 64 and below. The 64-128-channel layers
    # at 128 x 128 and 256 x 256 (40 % of the multiply-adds) ran slower so.
    winograd_modules = (
        "model3", "model4", "model5", "model6", "model7", "model8", "model3short8",
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self.model1 = _plain_block([4, 64, 64])
        self.model2 = _plain_block([64, 128, 128])
        self.model3 = _plain_block([128, 256, 256, 256])
        self.model4 = _plain_block([256, 512, 512, 512])
        self.model5 = _plain_block([512, 512, 512, 512], dilation=2)
        self.model6 = _plain_block([512, 512, 512, 512], dilation=2)
        self.model7 = _plain_block([512, 512, 512, 512])
        self.model8up = nn.Sequential(nn.ConvTranspose2d(512, 256, 4, stride=2, padding=1))
        self.model3short8 = nn.Sequential(_conv(256, 256))
        self.model8 = nn.Sequential(
            nn.ReLU(True), _conv(256, 256), nn.ReLU(True), _conv(256, 256), nn.ReLU(True),
            nn.BatchNorm2d(256),
        )  # fmt: skip
        self.model9up = nn.Sequential(nn.ConvTranspose2d(256, 128, 4, stride=2, padding=1))
        self.model2short9 = nn.Sequential(_conv(128, 128))
        self.model9 = nn.Sequential(
            nn.ReLU(True), _conv(128, 128), nn.ReLU(True), nn.BatchNorm2d(128)
        )
        self.model10up = nn.Sequential(nn.ConvTranspose2d(128, 128, 4, stride=2, padding=1))
        self.model1short10 = nn.Sequential(_conv(64, 128))
        self.model10 = nn.Sequential(nn.ReLU(True), _conv(128, 128), nn.LeakyReLU(0.2))
        # Present in the official checkpoint (a classification head used in training); unused here.
        self.model_class = nn.Sequential(nn.Conv2d(256, 529, 1))
        self.model_out = nn.Sequential(nn.Conv2d(128, 2, 1), nn.Tanh())

    def forward(
        self,
        lightness: torch.Tensor,
        hint_ab: torch.Tensor | None = None,
        hint_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if hint_ab is None:
            hint_ab = torch.zeros_like(lightness).repeat(1, 2, 1, 1)
        if hint_mask is None:
            hint_mask = torch.zeros_like(lightness)
        x = torch.cat([(lightness - L_CENT) / L_NORM, hint_ab / AB_NORM, hint_mask], dim=1)
        conv1 = self.model1(x)
        conv2 = self.model2(conv1[:, :, ::2, ::2])
        conv3 = self.model3(conv2[:, :, ::2, ::2])
        x = self.model4(conv3[:, :, ::2, ::2])
        x = self.model7(self.model6(self.model5(x)))
        x = self.model8(self.model8up(x) + self.model3short8(conv3))
        x = self.model9(self.model9up(x) + self.model2short9(conv2))
        x = self.model10(self.model10up(x) + self.model1short10(conv1))
        return self.model_out(x) * AB_NORM


NETWORKS: dict[str, type[nn.Module]] = {"eccv16": ECCV16, "siggraph17": SIGGRAPH17}


def working_lightness(
    gray: np.ndarray, size: int = WORKING_SIZE, parallel: bool = False
) -> np.ndarray:
    """L of the image resized to size x size as the official release does it (8-bit bicubic;
    `parallel`: the same pixels, a band of rows per thread, as `fast` makes them)."""
    image = resized(gray_image(gray), (size, size), Image.BICUBIC, parallel)
    return gray_to_lightness(np.asarray(image, dtype=np.float32) / 255.0)


def hint_tensors(
    hints: list[tuple[float, float, tuple[int, int, int]]],
    original_size: tuple[int, int],
    size: int = WORKING_SIZE,
    square: int = 3,
) -> tuple[torch.Tensor, torch.Tensor]:
    """ab hint planes and mask at working size from (x, y, rgb) points in original pixels."""
    height, width = original_size
    ab = torch.zeros(1, 2, size, size)
    mask = torch.zeros(1, 1, size, size)
    half = square // 2
    for x, y, rgb in as_colour_points(hints):
        col = int(np.clip(x * size / width, 0, size - 1))
        row = int(np.clip(y * size / height, 0, size - 1))
        lab = rgb_to_lab(np.array(rgb, dtype=np.float32) / 255.0)
        rows = slice(max(row - half, 0), row + half + 1)
        cols = slice(max(col - half, 0), col + half + 1)
        ab[0, 0, rows, cols] = float(lab[1])
        ab[0, 1, rows, cols] = float(lab[2])
        mask[0, 0, rows, cols] = 1.0
    return ab, mask


class ZhangPredictor:
    """Runs ECCV16 or SIGGRAPH17 with the official pre- and post-processing."""

    def __init__(
        self, weights: Path, device: str, network: str = "eccv16", width: float = 1.0
    ) -> None:
        self.network_name = network
        self.device = torch.device(device)
        self.net = ECCV16(width) if network == "eccv16" else NETWORKS[network]()
        load_into(self.net, weights)
        self.net.eval().to(self.device)
        # ECCV16's temperature is a number: the network runs up to the logits, the eager decode
        # after them (the same operations as forward).
        method = "logits" if network == "eccv16" else "forward"
        self.run = inference.prepare(self.net, self.device, method=method)

    @torch.inference_mode()
    def predict(
        self,
        gray: np.ndarray,
        temperature: float = DEFAULT_TEMPERATURE,
        hints: list[Any] | None = None,
        **_: Any,
    ) -> Chroma:
        lightness = torch.from_numpy(working_lightness(gray, parallel=self.run.fast))
        lightness = lightness[None, None].to(self.device)
        if self.network_name == "eccv16":
            ab = self.net.decode(self.run(lightness), temperature=temperature)
        else:
            hint_ab, mask = hint_tensors(hints or [], gray.shape)
            ab = self.run(lightness, hint_ab.to(self.device), mask.to(self.device))
        return Chroma(ab=ab[0].permute(1, 2, 0).float().cpu().numpy())


def random_weights(spec: Any, directory: Path) -> Path:
    """Randomly initialised weights in the official layout for `spec` (benchmarks, tests)."""
    from ml.checkpoints import save_half
    from ml.weights import known

    options = spec.options
    network = options.get("network", "eccv16")
    net = ECCV16(options.get("width", 1.0)) if network == "eccv16" else NETWORKS[network]()
    return save_half(net.state_dict(), Path(directory) / known(spec.weights).filename)
