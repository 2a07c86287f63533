"""The toy family's training pipeline, on Coloria's shared machinery (ResumableRun.run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ml.color import Chroma, gray_to_lightness
from ml.train import common, datasets
from tests.toy_family.model import ToyNet


class ToyTraining(common.ResumableRun):
    label = "toy"

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        train_cfg = config.get("train", {})
        self.size = int(train_cfg.get("size", 32))
        self.batch_size = int(train_cfg.get("batch_size", 4))
        self.steps = int(train_cfg.get("steps", 10))
        self.out = Path(config.get("output", {}).get("dir", "runs/toy"))
        self.start(train_cfg)
        self.load_photos(config.get("data", {}), short_side=self.size * 2)
        self.net = ToyNet().to(self.device)
        self.optimizer = torch.optim.Adam(
            self.net.parameters(), lr=float(train_cfg.get("lr", 1e-2))
        )
        self.rng = np.random.default_rng(self.seed)
        self.step = 0
        self.checkpoints = common.Checkpoints(self.out / "checkpoints")
        self.log = common.CSVLog(self.out / "log.csv", ["step", "loss", "images_per_s"])

    def train_step(self) -> dict[str, float]:
        picks = self.rng.integers(0, len(self.train_photos), self.batch_size)
        crops = [datasets.random_crop(self.train_photos[i], self.size, self.rng, (0.5, 1.0))
                 for i in picks]  # fmt: skip
        lab = torch.from_numpy(datasets.lab_batch(crops)).to(self.device)
        loss = F.l1_loss(self.net(lab[:, :1]), lab[:, 1:])
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.step += 1
        return {"loss": float(loss.detach())}

    saved = {"model": "net", "optimizer": "optimizer"}

    @torch.inference_mode()
    def predict(self, gray: np.ndarray) -> Chroma:
        lightness = torch.from_numpy(gray_to_lightness(gray))[None, None].to(self.device)
        return Chroma(ab=self.net(lightness)[0].permute(1, 2, 0).cpu().numpy())

    def export(self, path: Path) -> Path:
        return common.export_fp16(self.net.state_dict(), path)
