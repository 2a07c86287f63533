"""The toy family's network and predictor."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ml.checkpoints import load_into, save_half
from ml.color import Chroma, gray_to_lightness


class ToyNet(nn.Module):
    """Lightness (N, 1, H, W) in [0, 100] -> ab (N, 2, H, W)."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
            nn.Conv2d(8, 2, 3, padding=1),
        )  # fmt: skip

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        return self.layers(lightness / 50 - 1) * 40


class ToyPredictor:
    def __init__(self, weights: Path, device: str) -> None:
        self.net = ToyNet()
        load_into(self.net, weights)
        self.net.eval().to(device)
        self.device = device

    @torch.inference_mode()
    def predict(self, gray: np.ndarray, seconds: float = 0.0, **_: Any) -> Chroma:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:  # a long job, in small steps like a real network's
            time.sleep(0.05)
        lightness = torch.from_numpy(gray_to_lightness(gray[::4, ::4]))[None, None]
        ab = self.net(lightness.to(self.device))
        return Chroma(ab=ab[0].permute(1, 2, 0).cpu().numpy())


def random_weights(spec: Any, directory: Path) -> Path:
    from ml.weights import known

    torch.manual_seed(0)
    return save_half(ToyNet().state_dict(), Path(directory) / known(spec.weights).filename)
