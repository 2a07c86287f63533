"""Training DDColor the way its authors did (BasicSR's ColorModel), at any scale.

Each step the network sees a gray input (the neutral RGB of each crop's L*) and predicts a, b;
joined to the true L* they give an RGB image, and the generator minimises

    0.1 x L1(a, b)  +  5 x perceptual  +  1 x adversarial  +  0.5 x colourfulness

- perceptual: L1 between VGG16-bn features of output and target RGB at conv1_1, conv2_1,
  conv3_1, conv4_1 and conv5_1, weighted 1/16, 1/8, 1/4, 1/2 and 1 (BasicSR's PerceptualLoss).
  The VGG is DeOldify's FeatureLoss network: ImageNet VGG16-bn when installed (`python manage.py
  fetch_weights vgg16-bn`), else fixed, seeded random weights (the log and the card say which);
- adversarial: a discriminator (DeOldify's spectral-norm critic, patch logits) with binary
  cross-entropy; it trains right after each generator step on the target and the output;
- colourfulness: 1 - Hasler & Suesstrunk's colourfulness of the output (RGB in [0, 1]), averaged
  over the batch (the official code sums it over its per-GPU batch of 4; the mean keeps the
  weight independent of the batch size). It pushes against the dull average colour.

The targets shown to the perceptual loss and the discriminator are colour-enhanced x1.2 (as the
official config does), which nudges the output towards richer colour. Generator: AdamW (lr 1e-4,
betas 0.9/0.99, weight decay 0.01); discriminator: Adam (1e-4); both halved at the milestones.
The encoder starts from torchvision's ImageNet ConvNeXt when installed (`python manage.py
fetch_weights convnext-tiny`; the authors used ImageNet-22k weights), else from random weights.
The exported file is `{'params': state_dict}` in fp16, the form of the official files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ml import imagenet
from ml import weights as weights_manager
from ml.checkpoints import read_state_dict
from ml.color import Chroma
from ml.models.ddcolor import SIZE_MULTIPLE, DDColor, build_ddcolor, predict_ab
from ml.train import common, datasets
from ml.train.colour_loss import colourfulness_loss, enhance_colour, gray_input, lab_to_rgb_tensor
from ml.train.gan import build_critic, critic_loss
from ml.train.perceptual import PerceptualLoss

DEFAULT_LOSS_WEIGHTS = {"pixel": 0.1, "perceptual": 5.0, "gan": 1.0, "colourfulness": 0.5}
ENCODER_WEIGHTS = {"tiny": "convnext-tiny", "large": "convnext-large"}  # keys in ml.catalogue


# --- Colour maths that gradients flow through -------------------------------------------------


# --- The ImageNet start -----------------------------------------------------------------------


def convnext_from_torchvision(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a torchvision ConvNeXt state_dict to the encoder's (official) names.

    torchvision: features.0 stem, features.1/3/5/7 stages of CNBlocks (block.0 dwconv, block.2
    norm, block.3/5 the MLP, layer_scale (C, 1, 1)), features.2/4/6 downsampling, classifier.0
    the final norm and classifier.2 the ImageNet head (not needed).
    """
    block_parts = {"0": "dwconv", "2": "norm", "3": "pwconv1", "5": "pwconv2"}
    renamed = {}
    for key, tensor in state.items():
        parts = key.split(".")
        if parts[0] == "classifier":
            if parts[1] == "0":
                renamed[f"norm.{parts[2]}"] = tensor
            continue
        if parts[0] != "features":
            continue
        index = int(parts[1])
        if index % 2 == 0:  # the stem (0) and the downsampling layers (2, 4, 6)
            renamed[f"downsample_layers.{index // 2}.{'.'.join(parts[2:])}"] = tensor
        elif parts[3] == "layer_scale":
            renamed[f"stages.{index // 2}.{parts[2]}.gamma"] = tensor.flatten()
        else:
            name = block_parts[parts[4]]
            renamed[f"stages.{index // 2}.{parts[2]}.{name}.{parts[5]}"] = tensor
    return renamed


# --- The run ----------------------------------------------------------------------------------


class DDColorTraining(common.ResumableRun):
    """One DDColor training run, resumable from its last checkpoint."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        model_cfg = dict(config.get("model", {}))
        train_cfg = config.get("train", {})
        self.variant = str(model_cfg.pop("variant", "tiny"))
        encoder_choice = str(model_cfg.pop("encoder_weights", "auto"))
        self.size = int(train_cfg.get("size", 256))
        if self.size % SIZE_MULTIPLE or self.size < 64:
            raise common.TrainingError(
                f"train.size must be a multiple of {SIZE_MULTIPLE} and at least 64 (the "
                f"discriminator's smallest input), not {self.size}"
            )
        self.batch_size = int(train_cfg.get("batch_size", 16))
        self.steps = int(train_cfg.get("steps", 1000))
        self.lr = float(train_cfg.get("lr", 1e-4))
        self.critic_lr = float(train_cfg.get("critic_lr", self.lr))
        self.milestones = [int(m) for m in train_cfg.get("lr_milestones", [])]
        self.lr_gamma = float(train_cfg.get("lr_gamma", 0.5))
        self.crop_scale = tuple(float(s) for s in train_cfg.get("crop_scale", (0.5, 1.0)))
        self.enhance = float(train_cfg.get("colour_enhance", 1.2))
        self.loss_weights = {
            name: float(train_cfg.get(f"{name}_weight", default))
            for name, default in DEFAULT_LOSS_WEIGHTS.items()
        }
        self.val_input_size = int(train_cfg.get("val_input_size", 256))
        self.out = Path(config.get("output", {}).get("dir", "runs/ddcolor"))
        self.label = f"ddcolor {self.variant}"
        self.start(train_cfg)
        self.load_photos(config.get("data", {}), short_side=self.size * 3 // 2)

        try:
            self.net: DDColor = build_ddcolor(self.variant, **model_cfg).to(self.device)
        except (TypeError, ValueError) as exc:
            raise common.TrainingError(f"bad [model] section: {exc}") from exc
        self.encoder_source = self._init_encoder(encoder_choice)
        self.perceptual = PerceptualLoss(
            self._installed(train_cfg.get("vgg_weights", "vgg16-bn")), seed=self.seed
        ).to(self.device)
        critic_cfg = config.get("critic", {})
        self.critic = build_critic(
            int(critic_cfg.get("nf", 64)), dropout=float(critic_cfg.get("dropout", 0.15))
        ).to(self.device)
        self._build_optimisers(train_cfg)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.open_run(
            ["step", "loss", *DEFAULT_LOSS_WEIGHTS, "critic_loss", "lr", "images_per_s",
             "val_delta_e00", "val_grey_delta_e00", "val_colourfulness",
             "val_truth_colourfulness"],
        )  # fmt: skip
        # What the steps call: DDP-wrapped when distributed. The generator's adversarial term
        # uses the bare critic, which does not learn there and so needs no gradient sync.
        # The encoder's pooled `norm` is kept for the official keys but never used.
        self.gen = self.parallel(self.net, find_unused_parameters=True)
        self.critic_trained = self.parallel(self.critic)

    # --- set-up ---------------------------------------------------------------------------
    def _build_optimisers(self, train_cfg: dict[str, Any]) -> None:
        betas = tuple(float(b) for b in train_cfg.get("betas", (0.9, 0.99)))
        self.gen_optimizer = torch.optim.AdamW(
            self.net.parameters(),
            lr=self.lr,
            betas=betas,
            weight_decay=float(train_cfg.get("weight_decay", 0.01)),
        )
        self.critic_optimizer = torch.optim.Adam(
            self.critic.parameters(), lr=self.critic_lr, betas=betas
        )

    def _installed(self, key: str | None) -> Path | None:
        if not key or key == "none":
            return None
        return weights_manager.weights_path(key)

    def _init_encoder(self, choice: str) -> str:
        """Start the encoder from an installed ImageNet ConvNeXt; say where it started from."""
        key = ENCODER_WEIGHTS.get(self.variant) if choice == "auto" else choice
        path = self._installed(key)
        if path is None:
            return "random initialisation (no ImageNet ConvNeXt weights installed)"
        renamed = convnext_from_torchvision(read_state_dict(path))
        encoder = self.net.encoder.arch
        try:
            missing, unexpected = encoder.load_state_dict(renamed, strict=False)
        except RuntimeError as exc:  # shapes: a ConvNeXt of another size
            raise common.TrainingError(f"{path.name} does not fit this encoder: {exc}") from exc
        # The four feature norms are DDColor's own: they start fresh, as in the official code.
        own = {f"norm{i}.{p}" for i in range(4) for p in ("weight", "bias")}
        if unexpected or set(missing) - own:
            raise common.TrainingError(
                f"{path.name} is not a torchvision ConvNeXt for this encoder "
                f"(missing {sorted(set(missing) - own)[:3]}, unexpected {unexpected[:3]})"
            )
        return f"ImageNet ConvNeXt ({path.name})"

    def lr_at(self, step: int) -> float:
        return self.lr * self.lr_gamma ** sum(step >= m for m in self.milestones)

    # --- data -----------------------------------------------------------------------------
    def batch(self) -> dict[str, torch.Tensor]:
        """Random crops: their L* (N, 1, s, s), a, b (N, 2, s, s), the gray input and the
        colour-enhanced RGB target (N, 3, s, s)."""
        picks = self.rng.integers(0, len(self.train_photos), self.batch_size)
        crops = [
            datasets.random_crop(self.train_photos[i], self.size, self.rng, self.crop_scale)
            for i in picks
        ]
        lab = torch.from_numpy(datasets.lab_batch(crops)).to(self.device)
        rgb = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div(255)
        lightness = lab[:, :1]
        return {
            "lightness": lightness,
            "ab": lab[:, 1:],
            "gray": gray_input(lightness),
            "target": enhance_colour(rgb.to(self.device), self.enhance),
        }

    # --- steps ----------------------------------------------------------------------------

    def generator_losses(self, batch: dict[str, torch.Tensor]) -> tuple[dict, torch.Tensor]:
        """Each weighted generator loss, and the output RGB (for the discriminator)."""
        with torch.autocast(self.device.type, enabled=self.amp):
            ab = self.gen(batch["gray"]).float()
        rgb = lab_to_rgb_tensor(torch.cat([batch["lightness"], ab], dim=1))
        w = self.loss_weights
        losses = {
            "pixel": w["pixel"] * F.l1_loss(ab, batch["ab"]),
            "perceptual": w["perceptual"] * self.perceptual(rgb, batch["target"]),
            "colourfulness": w["colourfulness"] * colourfulness_loss(rgb),
        }
        if w["gan"]:
            # The discriminator judges without learning here (its own step follows).
            with torch.autocast(self.device.type, enabled=self.amp):
                judged = self.critic(imagenet.normalise(rgb))
                losses["gan"] = w["gan"] * critic_loss(judged, True)
        return losses, rgb

    def train_step(self, batch: dict[str, torch.Tensor] | None = None) -> dict[str, float]:
        """One generator step, then one discriminator step; returns the losses."""
        batch = batch or self.batch()
        lr = self.lr_at(self.step)
        for group in self.gen_optimizer.param_groups:
            group["lr"] = lr
        for group in self.critic_optimizer.param_groups:
            group["lr"] = self.critic_lr * lr / self.lr
        self.net.train()
        self.critic.train()
        self.critic.requires_grad_(False)
        losses, rgb = self.generator_losses(batch)
        total = sum(losses.values())
        self.backward(total, self.gen_optimizer)
        self.critic.requires_grad_(True)
        judged = torch.zeros(())
        if self.loss_weights["gan"]:
            critic = self.critic_trained
            with torch.autocast(self.device.type, enabled=self.amp):
                real = critic_loss(critic(imagenet.normalise(batch["target"])), True)
                judged = real + critic_loss(critic(imagenet.normalise(rgb.detach())), False)
            self.backward(judged, self.critic_optimizer)
        self.step += 1
        figures = {name: float(value.detach()) for name, value in losses.items()}
        return figures | {
            "loss": float(total.detach()),
            "critic_loss": float(judged.detach()),
            "lr": lr,
        }

    # --- state ----------------------------------------------------------------------------
    saved = {"net": "net", "critic": "critic", "gen_optimizer": "gen_optimizer",
             "critic_optimizer": "critic_optimizer", "scaler": "scaler"}  # fmt: skip

    # --- validation and export ------------------------------------------------------------
    def predict(self, gray: np.ndarray) -> Chroma:
        self.net.eval()
        return Chroma(ab=predict_ab(self.net, gray, self.val_input_size, self.device))

    def export(self, path: Path) -> Path:
        """The network's weights in fp16, in the official files' form ({'params': state})."""
        return common.export_fp16(self.net.state_dict(), path, wrapper="params")

    # --- the loop -------------------------------------------------------------------------
    # --- the loop's hooks -----------------------------------------------------------------
    log_every = 20
    val_every = 1000
    checkpoint_every = 500

    def announce(self) -> None:
        print(f"encoder: {self.encoder_source}; perceptual loss: {self.perceptual.source}")

    def origins(self) -> dict[str, Any]:
        return {"encoder": self.encoder_source, "feature_loss": self.perceptual.source}
