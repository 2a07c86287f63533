"""Training Zhang et al.'s networks.

ECCV16 learns to classify each pixel's ab into 313 bins: targets are soft-encoded on the nearest
bins (Gaussian, σ = 5), and the loss is rebalanced towards rare colours with weights
((1 − γ)·p + γ/Q)^−α (γ = 0.5, α = 1) from the training set's own smoothed ab histogram, so the
network does not settle on the desaturated average. SIGGRAPH17 regresses ab (smooth L1) and is
shown randomly sampled colour hints so it learns to follow them.

`loss = "delta_e00"` swaps either objective for the reported metric itself (`ml.train.colour_loss`):
the mean ΔE00 of the decoded colours plus a penalty for being less colourful than a floor. Its use
is fine-tuning: `[model] init` starts the network from weights a first run exported.

The 313 bin centres live in the network itself: `model_out` is a 1×1 convolution whose weights are
the centres / 110, which is how the official checkpoint decodes its distribution too. Coloria's own
bins are the 313 cells of the 10-unit ab grid that lie nearest the sRGB gamut.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ml.checkpoints import load_into
from ml.color import Chroma
from ml.errors import WeightsInvalid
from ml.models.colour_classes import ab_bins
from ml.models.zhang import AB_NORM, ECCV16, SIGGRAPH17, working_lightness
from ml.train import colour_loss, common, datasets
from ml.train.colour_bins import (
    ab_histogram,
    colour_mask,
    nearest_bin,
    rebalance_weights,
    soft_encode,
)
from ml.weights import sha256_of

OBJECTIVES = ("default", "delta_e00")  # default: rebalanced cross-entropy / smooth L1


def sample_hints(
    ab: torch.Tensor, generator: torch.Generator, max_points: int = 10
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random user hints from the true colours: a geometric number of small square patches, each
    showing its patch's mean ab (as SIGGRAPH17 was trained); often none (automatic mode)."""
    n, _, h, w = ab.shape
    hint = torch.zeros_like(ab)
    mask = torch.zeros(n, 1, h, w, device=ab.device)
    for i in range(n):
        points = 0
        while points < max_points and torch.rand(1, generator=generator).item() > 1 / 8:
            points += 1
        for _ in range(points):
            half = int(torch.randint(0, 3, (1,), generator=generator))
            y = int(torch.randint(half, h - half, (1,), generator=generator))
            x = int(torch.randint(half, w - half, (1,), generator=generator))
            rows, cols = slice(y - half, y + half + 1), slice(x - half, x + half + 1)
            hint[i, :, rows, cols] = ab[i, :, rows, cols].mean(dim=(1, 2), keepdim=True)
            mask[i, :, rows, cols] = 1.0
    return hint, mask


class ZhangTraining(common.ResumableRun):
    """One training run of ECCV16 or SIGGRAPH17, resumable from its last checkpoint."""

    checkpoint_every = 200

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        model_cfg = config.get("model", {})
        self.network = model_cfg.get("network", "eccv16")
        if self.network not in ("eccv16", "siggraph17"):
            raise common.TrainingError(f"unknown network {self.network!r}")
        self.width = float(model_cfg.get("width", 1.0))
        train_cfg = config.get("train", {})
        self.objective = train_cfg.get("loss", "default")
        if self.objective not in OBJECTIVES:
            raise common.TrainingError(
                f"unknown loss {self.objective!r}; choose one of {', '.join(OBJECTIVES)}"
            )
        self.colour_floor = float(train_cfg.get("colour_floor", 0.6))
        self.colour_weight = float(train_cfg.get("colour_weight", 1.0))
        self.size = int(train_cfg.get("size", 176))
        self.batch_size = int(train_cfg.get("batch_size", 40))
        self.steps = int(train_cfg.get("steps", 1000))
        self.crop_scale = tuple(float(s) for s in train_cfg.get("crop_scale", (0.35, 1.0)))
        self.out = Path(config.get("output", {}).get("dir", f"runs/{self.network}"))
        self.label = f"{self.network} ×{self.width:g}"
        self.start(train_cfg)
        self.load_photos(config.get("data", {}), short_side=self.size * 2)

        self.bins = ab_bins()
        self.net = self._network(model_cfg)
        self.bins_t = torch.from_numpy(self.bins).to(self.device)
        self.model = self.parallel(self.net)
        trainable = [p for p in self.net.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(
            trainable,
            lr=float(train_cfg.get("lr", 3e-5)),
            betas=tuple(train_cfg.get("betas", (0.9, 0.99))),
            weight_decay=float(train_cfg.get("weight_decay", 1e-3)),
        )
        decay_every = int(train_cfg.get("lr_decay_every", max(self.steps // 3, 1)))
        self.scheduler = torch.optim.lr_scheduler.StepLR(
            self.optimizer, decay_every, float(train_cfg.get("lr_decay", 0.316))
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.hint_generator = torch.Generator().manual_seed(self.seed + self.dist.rank)
        self.open_run(
            ["step", "loss", "lr", "images_per_s", "val_delta_e00", "val_grey_delta_e00",
             "val_colourfulness", "val_truth_colourfulness"],
        )  # fmt: skip

    def _network(self, model_cfg: dict[str, Any]) -> torch.nn.Module:
        """The network, with Coloria's fixed bins (ECCV16), from `[model] init` for a fine-tune
        (a checkpoint found by resume() replaces these weights)."""
        net = (ECCV16(self.width) if self.network == "eccv16" else SIGGRAPH17()).to(self.device)
        if self.network == "eccv16":
            prior = ab_histogram(self.train_photos, self.bins)
            weights = rebalance_weights(prior, self.bins)
            self.class_weights = torch.from_numpy(weights).to(self.device)
            with torch.no_grad():  # decode with Coloria's bins; fixed, as in the official model
                centres = torch.from_numpy(self.bins / AB_NORM).T[:, :, None, None]
                net.model_out.weight.copy_(centres)
            net.model_out.weight.requires_grad_(False)
        self.init = model_cfg.get("init")
        if self.init:
            self.init = Path(self.init)
            if not self.init.is_file():
                raise common.TrainingError(f"[model] init: no weights file at {self.init}")
            try:
                load_into(net, self.init)
            except WeightsInvalid as exc:
                raise common.TrainingError(f"[model] init: {exc}") from exc
        return net

    # --- one step -------------------------------------------------------------------------
    def batch(self) -> torch.Tensor:
        picks = self.rng.integers(0, len(self.train_photos), self.batch_size)
        crops = [
            datasets.random_crop(self.train_photos[i], self.size, self.rng, self.crop_scale)
            for i in picks
        ]
        return torch.from_numpy(datasets.lab_batch(crops)).to(self.device)

    def loss(self, lab: torch.Tensor) -> torch.Tensor:
        lightness, ab = lab[:, :1], lab[:, 1:]
        mask = colour_mask(ab)
        if self.objective == "delta_e00":
            return self.delta_e00_loss(lab, mask)
        if self.network == "eccv16":
            # Through forward(), so that DDP (which hooks forward) synchronises the gradients.
            logits = self.model(lightness, logits_only=True)
            small_ab = F.avg_pool2d(ab, 4)
            target = soft_encode(small_ab, self.bins_t)
            pixel_weights = self.class_weights[nearest_bin(small_ab, self.bins_t)]
            cross_entropy = -(target * F.log_softmax(logits.float(), dim=1)).sum(1)
            weighted = cross_entropy * pixel_weights * mask[:, None, None]
            return weighted.sum() / (mask.sum() * cross_entropy[0].numel()).clamp(min=1)
        hint, hint_mask = sample_hints(ab.cpu(), self.hint_generator)
        predicted = self.model(lightness, hint.to(self.device), hint_mask.to(self.device))
        error = F.smooth_l1_loss(predicted.float() / AB_NORM, ab / AB_NORM, reduction="none")
        return (error.mean(dim=(1, 2, 3)) * mask).sum() / mask.sum().clamp(min=1)

    def delta_e00_loss(self, lab: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean ΔE00 of the predicted colours (at crop size) + the colour-floor penalty."""
        lightness, ab = lab[:, :1], lab[:, 1:]
        if self.network == "eccv16":
            predicted = self.model(lightness)  # the decoded mean (T = 1), as the predictor uses
        else:
            hint, hint_mask = sample_hints(ab.cpu(), self.hint_generator)
            predicted = self.model(lightness, hint.to(self.device), hint_mask.to(self.device))
        predicted = predicted.float()
        error = colour_loss.ciede2000(torch.cat([lightness, predicted], 1), lab).mean(dim=(1, 2))
        shortfall = colour_loss.colour_floor_penalty(predicted, ab, self.colour_floor)
        per_image = error + self.colour_weight * shortfall
        return (per_image * mask).sum() / mask.sum().clamp(min=1)

    def train_step(self) -> dict[str, float]:
        self.net.train()
        lab = self.batch()
        with torch.autocast(self.device.type, enabled=self.amp):
            loss = self.loss(lab)
        self.backward(loss, self.optimizer)
        self.scheduler.step()
        self.step += 1
        return {"loss": float(loss.detach()), "lr": self.scheduler.get_last_lr()[0]}

    def origins(self) -> dict[str, Any]:
        if not self.init:
            return {}
        return {"weights": f"{self.init.name} (sha256 {sha256_of(self.init)})"}

    # --- state ----------------------------------------------------------------------------
    saved = {"model": "net", "optimizer": "optimizer", "scheduler": "scheduler",
             "scaler": "scaler", "hint_rng": "hint_generator"}  # fmt: skip

    # --- validation and export ------------------------------------------------------------
    @torch.inference_mode()
    def predict(self, gray: np.ndarray) -> Chroma:
        self.net.eval()
        lightness = torch.from_numpy(working_lightness(gray))[None, None].to(self.device)
        ab = self.net(lightness)
        return Chroma(ab=ab[0].permute(1, 2, 0).float().cpu().numpy())

    def export(self, path: Path) -> Path:
        """The network's weights in fp16 (half the size; loading converts back to fp32)."""
        return common.export_fp16(self.net.state_dict(), path)
