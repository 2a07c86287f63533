"""Training DeOldify generators the NoGAN way (Jason Antic's recipe, as the study ran it).

One run goes through three phases, one global step counter, so a run resumes wherever it stopped:

1. **generator**: the generator alone, with the feature loss (pixel L1 + L1 between VGG16-bn
   features of output and truth at the layers before max-pools 3, 4 and 5, weighted 20/70/10), at
   growing sizes and shrinking batches (the study: 64 px batch 88, 128 px, 192 px on half the
   data), the encoder frozen in the first stages and unfrozen later;
2. **critic**: a spectral-norm critic (LeakyReLU 0.2, dropout, self-attention) learns to tell the
   frozen generator's colour from real colour (binary cross-entropy);
3. **gan**: a short adversarial phase with fastai's AdaptiveGANSwitcher: the critic trains until
   its loss falls below `critic_thresh` (0.65), then the generator takes one step with
   weights_gen[0] x feature loss + weights_gen[1] x adversarial loss; Adam betas (0, 0.9).
   Checkpoints are frequent here so the best one can be picked by its validation figures.

Both the ImageNet VGG16-bn (feature loss) and ImageNet ResNet (encoder) weights come through the
weights manager (`python manage.py fetch_weights vgg16-bn resnet34`). Without them (an offline
machine), the encoder starts from random weights and the feature loss uses VGG16-bn with fixed,
seeded random weights: random convolutional features still measure local structure and texture,
a weaker but real perceptual signal. The log says which was used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ml import imagenet
from ml import weights as weights_manager
from ml.checkpoints import read_state_dict
from ml.color import Chroma
from ml.imagenet import denormalise
from ml.models.deoldify import (
    Architecture,
    build_generator,
    model_input,
    rgb_to_uv,
)
from ml.train import common, datasets
from ml.train.gan import build_critic, critic_loss
from ml.train.perceptual import FeatureLoss

# --- Losses and the critic --------------------------------------------------------------------


# --- The schedule -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    phase: str  # "generator", "critic" or "gan"
    steps: int
    size: int
    batch_size: int
    lr: float
    freeze_encoder: bool = False
    data_fraction: float = 1.0


def schedule(config: dict[str, Any]) -> list[Stage]:
    """The stages of a run, in order, from the config's [[generator.stages]], [critic], [gan]."""
    stages = [
        Stage(
            "generator",
            int(s["steps"]),
            int(s["size"]),
            int(s["batch_size"]),
            float(s["lr"]),
            bool(s.get("freeze_encoder", False)),
            float(s.get("data_fraction", 1.0)),
        )
        for s in config.get("generator", {}).get("stages", [])
    ]
    for phase in ("critic", "gan"):
        section = config.get(phase, {})
        if int(section.get("steps", 0)) > 0:
            stages.append(
                Stage(
                    phase,
                    int(section["steps"]),
                    int(section.get("size", 128)),
                    int(section.get("batch_size", 8)),
                    float(section.get("lr", 1e-4)),
                    data_fraction=float(section.get("data_fraction", 1.0)),
                )
            )
    if not stages:
        raise common.TrainingError("the config has no stages: add [[generator.stages]]")
    return stages


# --- The run ----------------------------------------------------------------------------------


class DeOldifyTraining(common.ResumableRun):
    """One NoGAN run of a DeOldify generator, resumable from its last checkpoint."""

    checkpoint_every = 200

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        model_cfg = config.get("model", {})
        self.arch = Architecture(
            model_cfg.get("encoder", "resnet34"),
            model_cfg.get("decoder", "deep"),
            float(model_cfg.get("nf_factor", 1.5)),
        )
        self.stages = schedule(config)
        self.steps = sum(s.steps for s in self.stages)
        train_cfg = config.get("train", {})
        self.out = Path(config.get("output", {}).get("dir", "runs/deoldify"))
        self.label = f"deoldify {self.arch.encoder}"
        self.start(train_cfg)

        self.load_photos(config.get("data", {}), short_side=max(s.size for s in self.stages) * 2)
        self.val_render_factor = int(train_cfg.get("val_render_factor", 12))

        self.generator = build_generator(self.arch).to(self.device)
        self.encoder_source = self._init_encoder(model_cfg.get("encoder_weights", "auto"))
        self.feature_loss = FeatureLoss(
            self._installed(train_cfg.get("vgg_weights", "vgg16-bn")), seed=self.seed
        ).to(self.device)
        gan_cfg, critic_cfg = config.get("gan", {}), config.get("critic", {})
        self.critic = build_critic(int(critic_cfg.get("nf", 256))).to(self.device)
        self.weights_gen = tuple(float(w) for w in gan_cfg.get("weights_gen", (1.0, 2.0)))
        self.critic_thresh = float(gan_cfg.get("critic_thresh", 0.65))
        self.critic_lr_mult = float(gan_cfg.get("critic_lr_mult", 5.0))
        self.gan_checkpoint_every = int(gan_cfg.get("checkpoint_every", 100))
        self.gen_optimizer = torch.optim.Adam(
            self.generator.parameters(),
            lr=1e-3,
            betas=(0.9, 0.99),
            weight_decay=float(train_cfg.get("weight_decay", 1e-3)),
        )
        self.critic_optimizer = torch.optim.Adam(
            self.critic.parameters(), lr=1e-3, betas=(0.9, 0.99)
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.gen_mode = False  # in the GAN phase: whose turn it is (the critic starts)
        self.stage = self.stages[0]
        self.open_run(
            [
                "step",
                "phase",
                "size",
                "loss",
                "lr",
                "images_per_s",
                "val_delta_e00",
                "val_grey_delta_e00",
                "val_colourfulness",
                "val_truth_colourfulness",
            ],
        )  # fmt: skip
        self._wrapped: tuple[str, nn.Module, nn.Module] | None = None

    # --- set-up ---------------------------------------------------------------------------
    def _installed(self, key: str) -> Path | None:
        if not key or key == "none":
            return None
        return weights_manager.weights_path(key)

    def _init_encoder(self, choice: str) -> str:
        """Load ImageNet weights into the encoder when installed; say where it started from."""
        key = self.arch.encoder if choice == "auto" else choice
        path = self._installed(key) if choice != "none" else None
        if path is None:
            return "random initialisation (no ImageNet ResNet weights installed)"
        state = read_state_dict(path)
        body = self.generator.layers[0]
        names = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
        renamed = {}
        for key_name, tensor in state.items():
            head, _, rest = key_name.partition(".")
            if head in names:
                renamed[f"{names.index(head)}.{rest}"] = tensor
        body.load_state_dict(renamed)
        return f"ImageNet {self.arch.encoder} ({path.name})"

    def stage_at(self, step: int) -> Stage:
        for stage in self.stages:
            if step < stage.steps:
                return stage
            step -= stage.steps
        return self.stages[-1]

    def _models_for(self, stage: Stage) -> tuple[nn.Module, nn.Module]:
        """Generator and critic as this stage trains them (DDP-wrapped when distributed; the
        wrapper is rebuilt when the set of trainable parameters changes)."""
        key = f"{stage.phase}:{stage.freeze_encoder}"
        if self._wrapped is None or self._wrapped[0] != key:
            self.generator.layers[0].requires_grad_(not stage.freeze_encoder)
            gen = self.generator if stage.phase == "critic" else self.parallel(self.generator)
            critic = self.critic if stage.phase == "generator" else self.parallel(self.critic)
            self._wrapped = (key, gen, critic)
        return self._wrapped[1], self._wrapped[2]

    # --- data -----------------------------------------------------------------------------
    def batch(self, stage: Stage) -> tuple[torch.Tensor, torch.Tensor]:
        """(gray input, colour target), both (N, 3, size, size) in ImageNet units."""
        usable = max(1, int(len(self.train_photos) * stage.data_fraction))
        picks = self.rng.integers(0, usable, stage.batch_size)
        crops = [
            datasets.random_crop(self.train_photos[i], stage.size, self.rng, (0.5, 1.0))
            for i in picks
        ]
        rgb = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div(255).to(self.device)
        # fastai's gray input: PIL's 'L' (ITU-R 601-2 luma) in all three channels.
        luma = (rgb * torch.tensor([0.299, 0.587, 0.114], device=self.device).view(1, 3, 1, 1)).sum(
            1, keepdim=True
        )
        gray = (luma * 255).round().div(255).repeat(1, 3, 1, 1)
        return imagenet.normalise(gray), imagenet.normalise(rgb)

    # --- steps ----------------------------------------------------------------------------
    def _set_lr(self, optimizer: torch.optim.Optimizer, lr: float) -> None:
        for group in optimizer.param_groups:
            group["lr"] = lr

    def train_step(self) -> dict[str, Any]:
        stage = self.stage_at(self.step)
        self.stage = stage
        gen, critic = self._models_for(stage)
        gray, truth = self.batch(stage)
        autocast = torch.autocast(self.device.type, enabled=self.amp)
        if stage.phase == "generator":
            self.generator.train()
            self._set_lr(self.gen_optimizer, stage.lr)
            with autocast:
                loss = self.feature_loss(gen(gray).float(), truth)
            self.backward(loss, self.gen_optimizer)
        elif stage.phase == "critic" or not self.gen_mode:
            self.critic.train()
            self.generator.eval()
            lr = stage.lr * (self.critic_lr_mult if stage.phase == "gan" else 1.0)
            self._set_lr(self.critic_optimizer, lr)
            with torch.no_grad(), autocast:
                fake = self.generator(gray)
            with autocast:
                loss = critic_loss(critic(truth), True) + critic_loss(critic(fake.float()), False)
            self.backward(loss, self.critic_optimizer)
            if stage.phase == "gan" and loss.item() < self.critic_thresh:
                self.gen_mode = True  # AdaptiveGANSwitcher: the critic is good enough
        else:
            self.generator.train()
            self.critic.eval()
            self._set_lr(self.gen_optimizer, stage.lr)
            with autocast:
                fake = gen(gray).float()
                loss = self.weights_gen[0] * self.feature_loss(fake, truth) + self.weights_gen[
                    1
                ] * critic_loss(critic(fake), True)
            self.critic.requires_grad_(False)
            self.backward(loss, self.gen_optimizer)
            self.critic.requires_grad_(True)
            self.gen_mode = False  # one generator step, then the critic again
        self.step += 1
        return {"loss": float(loss.detach()), "phase": stage.phase, "size": stage.size,
                "lr": stage.lr}  # fmt: skip

    # --- the loop's hooks -------------------------------------------------------------------
    def step_images(self) -> int:
        return self.stage.batch_size

    def boundary(self) -> bool:
        """A stage ended: validate and keep a checkpoint of what it learnt."""
        return self.stage_at(self.step) is not self.stage

    def checkpoint_interval(self, configured: int) -> int:
        if self.stage.phase == "gan":  # GAN phases drift: keep more points to go back to
            return self.gan_checkpoint_every
        return configured

    def announce(self) -> None:
        print(f"encoder: {self.encoder_source}; feature loss: {self.feature_loss.source}")

    def origins(self) -> dict[str, Any]:
        return {"encoder": self.encoder_source, "feature_loss": self.feature_loss.source}

    # --- state ----------------------------------------------------------------------------
    saved = {"generator": "generator", "critic": "critic", "gen_optimizer": "gen_optimizer",
             "critic_optimizer": "critic_optimizer", "scaler": "scaler"}  # fmt: skip

    def state(self) -> dict[str, Any]:
        return {**super().state(), "arch": self.arch.__dict__, "gen_mode": self.gen_mode}

    def restore(self, state: dict[str, Any]) -> None:
        super().restore(state)
        self.gen_mode = bool(state["gen_mode"])

    # --- validation and export ------------------------------------------------------------
    @torch.inference_mode()
    def predict(self, gray: np.ndarray) -> Chroma:
        self.generator.eval()
        x = model_input(gray, self.val_render_factor).to(self.device)
        rgb = denormalise(self.generator(x))[0].permute(1, 2, 0).float().cpu().numpy()
        return Chroma(ab=rgb_to_uv(rgb), space="yuv")

    def export(self, path: Path) -> Path:
        """The generator's weights in fp16, in the official file's form ({'model': state})."""
        return common.export_fp16(self.generator.state_dict(), path, wrapper="model")

    # --- the loop -------------------------------------------------------------------------
