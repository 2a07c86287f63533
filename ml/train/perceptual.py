"""Perceptual losses: distances between the features a fixed VGG16 sees in two images, as the
families' official recipes measure them (DeOldify's feature loss, DDColor's BasicSR perceptual
loss, BigColor's VGG16Perceptual). The VGG is ImageNet's when installed (the weights manager's
torchvision files), else a seeded substitute that the logs and cards name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ml import imagenet


def vgg16_features(
    weights: Path | None, *, batch_norm: bool, seed: int = 0, keep: int | None = None
) -> tuple[Any, str]:
    """VGG16's convolutional layers (the first `keep`), for perceptual losses, and what they are.

    With `weights` (torchvision's ImageNet file) they are ImageNet's; without (no internet, not
    fetched) they are a documented substitute, fixed seeded random weights, so that runs are
    reproducible and the log can say which was used. Only the convolutional part is built: the
    full VGG16 would allocate its 120 M-parameter classifier for nothing.
    """
    import torch
    from torch import nn
    from torchvision.models import vgg

    from ml.checkpoints import read_state_dict

    name = "VGG16-bn" if batch_norm else "VGG16"
    features = vgg.make_layers(vgg.cfgs["D"], batch_norm=batch_norm)
    if keep is not None:
        features = features[:keep]
    if weights is not None:
        state = read_state_dict(weights)
        # torchvision's 2017 files have no num_batches_tracked: BatchNorm fills it when absent.
        features.load_state_dict(
            {
                name.removeprefix("features."): value
                for name, value in state.items()
                if name.startswith("features.") and int(name.split(".")[1]) < len(features)
            }
        )
        return features, f"ImageNet {name} ({weights.name})"
    generator = torch.Generator().manual_seed(seed)
    for module in features.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, generator=generator)
            nn.init.zeros_(module.bias)
    return features, f"substitute: {name} with fixed random weights (no ImageNet {name} installed)"


# --- DeOldify -----------------------------------------------------------------------------------

FEATURE_LAYER_WEIGHTS = (20.0, 70.0, 10.0)


class FeatureLoss(nn.Module):
    """L1 on pixels plus weighted L1 on VGG16-bn features (inputs in ImageNet units)."""

    def __init__(self, vgg_weights: Path | None, seed: int = 0) -> None:
        super().__init__()
        features, self.source = vgg16_features(vgg_weights, batch_norm=True, seed=seed)
        pools = [i for i, layer in enumerate(features) if isinstance(layer, nn.MaxPool2d)]
        self.taps = [i - 1 for i in pools[2:5]]  # the ReLUs before max-pools 3, 4 and 5
        self.features = features[: self.taps[-1] + 1].eval().requires_grad_(False)

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        found = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.taps:
                found.append(x)
        return found

    def train(self, mode: bool = True) -> FeatureLoss:
        super().train(mode)
        self.features.eval()  # fixed statistics, always
        return self

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = F.l1_loss(output, target)
        with torch.no_grad():
            wanted = self._features(target)
        for got, want, weight in zip(
            self._features(output), wanted, FEATURE_LAYER_WEIGHTS, strict=True
        ):
            loss = loss + weight * F.l1_loss(got, want)
        return loss


# --- DDColor ------------------------------------------------------------------------------------

PERCEPTUAL_LAYER_WEIGHTS = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)  # conv1_1 ... conv5_1


class PerceptualLoss(FeatureLoss):
    """BasicSR's perceptual loss as DDColor configures it: weighted L1 between VGG16-bn
    features (the first conv of each of its five blocks, before batch norm) of RGB in [0, 1].
    The VGG, ImageNet or its seeded substitute, comes from DeOldify's FeatureLoss."""

    def __init__(self, vgg_weights: Path | None, seed: int = 0) -> None:
        super().__init__(vgg_weights, seed)
        pools = [i for i, layer in enumerate(self.features) if isinstance(layer, nn.MaxPool2d)]
        self.taps = [0] + [i + 1 for i in pools]  # conv1_1 and the conv after each max-pool
        assert len(self.taps) == len(PERCEPTUAL_LAYER_WEIGHTS), self.taps
        self.features = self.features[: self.taps[-1] + 1]

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            wanted = self._features(imagenet.normalise(target))
        got = self._features(imagenet.normalise(output))
        return sum(
            weight * F.l1_loss(g, w)
            for g, w, weight in zip(got, wanted, PERCEPTUAL_LAYER_WEIGHTS, strict=True)
        )


# --- BigColor -----------------------------------------------------------------------------------

VGG_LAYERS = (1, 2, 13, 20)


VGG_CROP = 224 / 256  # the official Resize(256) + CenterCrop(224) of 256 px crops


class VGGFeatureLoss(nn.Module):
    """The official VGG16Perceptual: MSE between VGG16 features of two [0, 1] images.

    torchvision's VGG16 has in-place ReLUs, so a feature tapped at a convolution (index 2) is seen
    after the ReLU that follows it, exactly as in the official module, which runs the same layers.
    """

    def __init__(
        self, layers: tuple[int, ...] = VGG_LAYERS, weights: Path | None = None, seed: int = 0
    ) -> None:
        super().__init__()
        self.layers = tuple(int(i) for i in layers)
        features, self.source = vgg16_features(
            weights, batch_norm=False, seed=seed, keep=max(self.layers) + 1
        )
        self.features = features.eval().requires_grad_(False)

    def train(self, mode: bool = True) -> VGGFeatureLoss:
        super().train(mode)
        self.features.eval()  # a fixed measuring instrument
        return self

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        size = x.shape[-1]
        crop = round(size * VGG_CROP)
        start = (size - crop) // 2
        x = x[..., start : start + crop, start : start + crop]
        x = imagenet.normalise(x)
        found = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.layers:
                found.append(x)
        return found

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            wanted = self._features(target)
        got = self._features(output)
        total = sum(F.mse_loss(g.float(), w.float()) for g, w in zip(got, wanted, strict=True))
        # The official module divides by the batch size too (its weight 0.2 is tuned with it).
        return total / output.shape[0] / len(self.layers)
