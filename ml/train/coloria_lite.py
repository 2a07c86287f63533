"""Training Coloria-Lite: a decoder on a frozen ImageNet encoder first, then both together.

Targets are Zhang et al.'s: each pixel's true ab, at a quarter of the crop size, soft-encoded on the
313 bins, with a cross-entropy rebalanced towards rare colours (`rebalance` is the exponent α of
the weights ((1 − γ)·p + γ/Q)^−α; 0 turns it off, 1 is Zhang's). Near-grey crops are left out.

For the first `frozen_steps` the encoder's ImageNet weights stay as they are and only the decoder
learns (fast: no gradients through the encoder, and nothing the encoder knows is disturbed by a
decoder that still outputs noise); then the encoder is fine-tuned at `encoder_lr_scale` times the
learning rate, its batch-norm statistics kept (the batches are small). Learning rates warm up and
follow a cosine to zero.

Augmentation (the photo set is small): random resized crops with flips, small rotations, and
brightness/contrast jitter of the gray input only (the colours to predict do not change).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ml.catalogue.coloria_lite import STRENGTH
from ml.color import LUMA, Chroma, linear_to_srgb, srgb_to_linear
from ml.models.coloria_lite import ColoriaLite, predict_chroma
from ml.models.colour_classes import ab_bins
from ml.models.efficientnet_lite import imagenet_weights_path
from ml.train import common, datasets
from ml.train.colour_bins import (
    ab_histogram,
    colour_mask,
    nearest_bin,
    rebalance_weights,
    soft_encode,
)


def gray_of(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (..., 3) -> the gray values in [0, 1] that `ml.color.to_gray` gives a photo."""
    linear = srgb_to_linear(rgb.astype(np.float32) / 255.0)
    return linear_to_srgb(np.clip(linear @ LUMA, 0.0, 1.0))


def augmented_crop(
    photo: np.ndarray, size: int, rng: np.random.Generator, scale: tuple[float, float],
    max_rotation: float,
) -> np.ndarray:  # fmt: skip
    """A random resized, flipped crop, turned by up to `max_rotation` degrees (the corners that
    turning would leave empty are cropped away)."""
    angle = float(rng.uniform(-max_rotation, max_rotation)) if max_rotation else 0.0
    # A square turned by θ holds an upright square of side s / (cos θ + sin θ).
    margin = math.cos(math.radians(abs(angle))) + math.sin(math.radians(abs(angle)))
    crop = datasets.random_crop(photo, math.ceil(size * margin), rng, scale)
    if not angle:
        return crop
    turned = Image.fromarray(crop).rotate(angle, resample=Image.BICUBIC)
    offset = (turned.width - size) // 2
    return np.asarray(turned.crop((offset, offset, offset + size, offset + size)))


def jitter(gray: torch.Tensor, generator: torch.Generator, amount: float) -> torch.Tensor:
    """Random brightness and contrast per image (N, 1, H, W), clipped to [0, 1]."""
    n = gray.shape[0]
    contrast = 1 + (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1) * amount
    brightness = (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1) * amount / 2
    mean = gray.mean(dim=(2, 3), keepdim=True)
    return ((gray - mean) * contrast.to(gray) + mean + brightness.to(gray)).clamp(0, 1)


class ColoriaLiteTraining(common.ResumableRun):
    """One resumable training run of Coloria-Lite."""

    log_every = 10
    val_every = 500
    checkpoint_every = 250

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        model_cfg = config.get("model", {})
        self.variant = model_cfg.get("encoder", "lite0")
        self.pretrained = bool(model_cfg.get("pretrained", True))
        train_cfg = config.get("train", {})
        self.size = int(train_cfg.get("size", 192))
        self.batch_size = int(train_cfg.get("batch_size", 16))
        self.steps = int(train_cfg.get("steps", 6000))
        self.frozen_steps = int(train_cfg.get("frozen_steps", self.steps // 2))
        self.crop_scale = tuple(float(s) for s in train_cfg.get("crop_scale", (0.3, 1.0)))
        self.max_rotation = float(train_cfg.get("rotation", 10.0))
        self.jitter = float(train_cfg.get("jitter", 0.2))
        self.rebalance = float(train_cfg.get("rebalance", 0.5))
        self.val_strength = float(train_cfg.get("val_strength", STRENGTH.default))
        lr = float(train_cfg.get("lr", 1e-3))
        encoder_lr = lr * float(train_cfg.get("encoder_lr_scale", 0.1))
        weight_decay = float(train_cfg.get("weight_decay", 1e-4))
        self.warmup = int(train_cfg.get("warmup", 100))
        self.out = Path(config.get("output", {}).get("dir", "runs/coloria-lite"))
        self.label = f"coloria-lite {self.variant}"
        self.start(train_cfg)
        self.load_photos(config.get("data", {}), short_side=self.size * 2)

        self.net = ColoriaLite(self.variant)
        if self.pretrained:
            self.encoder_source = self._load_encoder()
        else:  # an ablation: the same network learning everything from these photos
            self.encoder_source = "none: randomly initialised (pretrained = false)"
        self.bins = ab_bins()
        self.net.ab_bins.copy_(torch.from_numpy(self.bins))
        self.net.to(self.device)
        self.bins_t = self.net.ab_bins
        prior = ab_histogram(self.train_photos, self.bins)
        weights = rebalance_weights(prior, self.bins) ** self.rebalance
        weights /= (prior * weights).sum()  # expectation 1 under the data, as Zhang's
        self.class_weights = torch.from_numpy(weights.astype(np.float32)).to(self.device)

        self.model: torch.nn.Module = self.parallel(self.net)
        self.optimizer = torch.optim.AdamW(
            [
                {"params": self.net.decoder_parameters(), "lr": lr},
                {"params": list(self.net.encoder.parameters()), "lr": encoder_lr},
            ],
            weight_decay=weight_decay,
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, [self._decoder_schedule, self._encoder_schedule]
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.jitter_generator = torch.Generator().manual_seed(self.seed + self.dist.rank)
        self.open_run(
            ["step", "loss", "lr", "encoder_lr", "images_per_s", "val_delta_e00",
             "val_grey_delta_e00", "val_colourfulness", "val_truth_colourfulness", "val_psnr"],
        )  # fmt: skip

    def _load_encoder(self) -> str:
        from ml.checkpoints import read_state_dict

        try:
            path = imagenet_weights_path(self.variant)
        except FileNotFoundError as exc:
            raise common.TrainingError(str(exc)) from exc
        state = read_state_dict(path)
        mine = self.net.encoder.state_dict()
        self.net.encoder.load_state_dict({k: v for k, v in state.items() if k in mine})
        return f"ImageNet EfficientNet-{self.variant.title()} ({path.name}, from PyPI)"

    # --- schedules ----------------------------------------------------------------------
    def _cosine(self, step: int, start: int) -> float:
        """Linear warm-up from `start`, then a cosine to zero at the last step."""
        done = step - start
        if done < 0:
            return 0.0
        if done < self.warmup:
            return (done + 1) / self.warmup
        span = max(self.steps - start - self.warmup, 1)
        return 0.5 * (1 + math.cos(math.pi * min((done - self.warmup) / span, 1.0)))

    def _decoder_schedule(self, step: int) -> float:
        return self._cosine(step, 0)

    def _encoder_schedule(self, step: int) -> float:
        return self._cosine(step, self.frozen_steps) if self.pretrained else self._cosine(step, 0)

    @property
    def encoder_frozen(self) -> bool:
        return self.pretrained and self.step < self.frozen_steps

    # --- one step -------------------------------------------------------------------------
    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(gray input with jitter (N, 1, S, S), true Lab (N, 3, S, S))."""
        picks = self.rng.integers(0, len(self.train_photos), self.batch_size)
        crops = [
            augmented_crop(self.train_photos[i], self.size, self.rng, self.crop_scale,
                           self.max_rotation)
            for i in picks
        ]  # fmt: skip
        gray = torch.from_numpy(np.stack([gray_of(c) for c in crops]))[:, None]
        gray = jitter(gray, self.jitter_generator, self.jitter) if self.jitter else gray
        lab = torch.from_numpy(datasets.lab_batch(crops))
        return gray.to(self.device), lab.to(self.device)

    def loss(self, gray: torch.Tensor, lab: torch.Tensor) -> torch.Tensor:
        ab = lab[:, 1:]
        mask = colour_mask(ab)
        # Through forward(), so that DDP (which hooks forward) synchronises the gradients.
        logits = self.model(gray, logits_only=True)
        small_ab = F.adaptive_avg_pool2d(ab, logits.shape[-2:])
        target = soft_encode(small_ab, self.bins_t)
        pixel_weights = self.class_weights[nearest_bin(small_ab, self.bins_t)]
        cross_entropy = -(target * F.log_softmax(logits.float(), dim=1)).sum(1)
        weighted = cross_entropy * pixel_weights * mask[:, None, None]
        return weighted.sum() / (mask.sum() * cross_entropy[0].numel()).clamp(min=1)

    def train_step(self) -> dict[str, float]:
        frozen = self.encoder_frozen
        self.net.train()
        self.net.encoder.eval()  # batch-norm statistics stay ImageNet's (small batches)
        for parameter in self.net.encoder.parameters():
            parameter.requires_grad_(not frozen)
        gray, lab = self.batch()
        with torch.autocast(self.device.type, enabled=self.amp):
            loss = self.loss(gray, lab)
        self.backward(loss, self.optimizer)
        self.scheduler.step()
        self.step += 1
        decoder_lr, encoder_lr = self.scheduler.get_last_lr()
        return {"loss": float(loss.detach()), "lr": decoder_lr, "encoder_lr": encoder_lr}

    # --- state ----------------------------------------------------------------------------
    saved = {"model": "net", "optimizer": "optimizer", "scheduler": "scheduler",
             "scaler": "scaler", "jitter_rng": "jitter_generator"}  # fmt: skip

    def origins(self) -> dict[str, Any]:
        return {"encoder": self.encoder_source}

    # --- validation and export ------------------------------------------------------------
    @torch.inference_mode()
    def predict(self, gray: np.ndarray) -> Chroma:
        self.net.eval()
        return predict_chroma(self.net, gray, self.val_strength, self.device)

    def export(self, path: Path) -> Path:
        """The whole network (encoder included: it was fine-tuned) in fp16."""
        return common.export_fp16(self.net.state_dict(), path)

    def complete_card(self, card: Path) -> None:
        """Add the colour-strength sweep on the validation photos and the strength it chooses
        (the boldest whose mean ΔE00 is not above leaving the photos grey)."""
        if not self.val_photos:
            return
        sweep = strength_sweep(self.net, self.val_photos, device=self.device)
        data = json.loads(card.read_text())
        data["strength_sweep"] = sweep
        data["default_strength"] = choose_strength(sweep)
        data["started_from"] = {"encoder": self.encoder_source}
        card.write_text(json.dumps(data, indent=2) + "\n")


STRENGTHS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


@torch.inference_mode()
def strength_sweep(
    net: ColoriaLite, photos: list[np.ndarray], *, device: Any = "cpu",
    strengths: tuple[float, ...] = STRENGTHS,
) -> list[dict[str, float]]:  # fmt: skip
    """Mean ΔE00, PSNR and colourfulness of the network's colours on `photos` at each colour
    strength, beside leaving them grey. The network runs once per photo; each strength only
    decodes its scores again."""
    from ml import metrics
    from ml.color import compose, to_gray
    from ml.models.coloria_lite import temperature_of, working_gray

    net.eval()
    figures: dict[float, list[tuple[float, float, float]]] = {s: [] for s in strengths}
    grey, truth_colour = [], []
    for truth in photos:
        gray = to_gray(Image.fromarray(truth))
        logits = net.logits(torch.from_numpy(working_gray(gray))[None, None].to(device))
        for strength in strengths:
            ab = net.decode(logits, temperature_of(strength))[0].permute(1, 2, 0).cpu().numpy()
            output = np.asarray(compose(gray, Chroma(ab=ab)))
            scores = (metrics.delta_e00(output, truth), metrics.psnr(output, truth))
            figures[strength].append((*scores, metrics.colourfulness(output)))
        grey.append(metrics.delta_e00(metrics.grey_baseline(truth), truth))
        truth_colour.append(metrics.colourfulness(truth))
    baseline = {
        "grey_delta_e00": float(np.mean(grey)),
        "truth_colourfulness": float(np.mean(truth_colour)),
    }
    return [
        {"strength": s, "delta_e00": float(np.mean([f[0] for f in rows])),
         "psnr": float(np.mean([f[1] for f in rows])),
         "colourfulness": float(np.mean([f[2] for f in rows])), **baseline, "photos": len(rows)}
        for s, rows in figures.items()
    ]  # fmt: skip


def choose_strength(sweep: list[dict[str, float]]) -> float:
    """The strength with the most colour whose mean ΔE00 is not above grey's; without one, the
    strength closest to grey's ΔE00."""
    fair = [row for row in sweep if row["delta_e00"] <= row["grey_delta_e00"]]
    if fair:
        return max(fair, key=lambda row: row["colourfulness"])["strength"]
    return min(sweep, key=lambda row: row["delta_e00"])["strength"]
