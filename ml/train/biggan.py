"""BigGAN-256's discriminator and the BigGAN files BigColor's training starts from: the
discriminator network (its official keys), and checking that a downloaded file fits the network it
starts (names and shapes), since no checksums are published."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ml.checkpoints import read_state_dict
from ml.errors import WeightsInvalid
from ml.models.bigcolor import (
    NUM_CLASSES,
    Attention,
    BigColorConfig,
    Generator,
    SNConv2d,
    SNEmbedding,
    SNLinear,
)

# The networks the BigGAN files fit (module attributes so that tests can check the mechanism
# with tiny files).
PRETRAINED_CONFIG = BigColorConfig()


PRETRAINED_D_CHANNELS = 96


# BigGAN-256's D_arch: (in, out) width multipliers of the seven blocks; the first reads RGB, every
# block but the last halves the size (256 px -> 4 px).
DISCRIMINATOR_WIDTHS = ((0, 1), (1, 2), (2, 4), (4, 8), (8, 8), (8, 16), (16, 16))


DISCRIMINATOR_ATTENTION_BLOCK = 1  # D_attn '64': after the block that ends at 64 px


SIZE_MULTIPLE = 64  # D halves the crop six times


class DBlock(nn.Module):
    """BigGAN's (wide) discriminator block: [ReLU] conv1, ReLU, conv2 [avg-pool], plus a shortcut
    that is a 1x1 conv where the width or the size changes."""

    def __init__(self, in_ch: int, out_ch: int, *, preactivation: bool, downsample: bool) -> None:
        super().__init__()
        self.preactivation = preactivation
        self.downsample = downsample
        self.conv1 = SNConv2d(in_ch, out_ch)
        self.conv2 = SNConv2d(out_ch, out_ch)
        self.learnable_sc = in_ch != out_ch or downsample
        if self.learnable_sc:
            self.conv_sc = SNConv2d(in_ch, out_ch, kernel=1)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        # The official order: conv then pool after a pre-activation, pool then conv on RGB input.
        if self.preactivation:
            if self.learnable_sc:
                x = self.conv_sc(x)
            return F.avg_pool2d(x, 2) if self.downsample else x
        if self.downsample:
            x = F.avg_pool2d(x, 2)
        return self.conv_sc(x) if self.learnable_sc else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(x) if self.preactivation else x
        h = self.conv2(F.relu(self.conv1(h)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        return h + self._shortcut(x)


class Discriminator(nn.Module):
    """BigGAN-256's projection discriminator with the official key names (`blocks.1.1.theta.u0`,
    `embed.weight`, ...), so that D_256.pth loads: one logit per image, the unconditional
    `linear` output plus the projection of the pooled features on the class's embedding."""

    def __init__(self, channels: int = 96, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        blocks = []
        last = len(DISCRIMINATOR_WIDTHS) - 1
        for index, (mult_in, mult_out) in enumerate(DISCRIMINATOR_WIDTHS):
            in_ch = 3 if index == 0 else mult_in * channels
            stage: list[nn.Module] = [
                DBlock(in_ch, mult_out * channels, preactivation=index > 0, downsample=index < last)
            ]
            if index == DISCRIMINATOR_ATTENTION_BLOCK:
                stage.append(Attention(mult_out * channels))
            blocks.append(nn.ModuleList(stage))
        self.blocks = nn.ModuleList(blocks)
        width = DISCRIMINATOR_WIDTHS[-1][1] * channels
        self.linear = SNLinear(width, 1)
        self.embed = SNEmbedding(num_classes, width)

    def forward(self, images: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """images (N, 3, H, W) in [-1, 1], H and W multiples of 64; classes (N,) -> logits (N,)."""
        h = images
        for stage in self.blocks:
            for layer in stage:
                h = layer(h)
        h = torch.sum(F.relu(h), dim=(2, 3))  # global sum pooling, as in SN-GAN
        out = self.linear(h) + torch.sum(self.embed(classes) * h, dim=1, keepdim=True)
        return out.squeeze(1)


def orthogonal_init(network: nn.Module) -> None:
    """BigGAN's and BigColor's 'ortho' initialisation of every conv, linear and embedding."""
    for module in network.modules():
        if isinstance(module, nn.Conv2d | nn.Linear | nn.Embedding):
            nn.init.orthogonal_(module.weight)


def _is_instance_norm(key: str) -> bool:
    # BigColor's GBlock keeps instance norms (in1, in2) that BigGAN's own generator lacks.
    return ".in1." in key or ".in2." in key


def generator_shapes(config: BigColorConfig) -> dict[str, tuple[int, ...]]:
    """What a BigGAN generator file must hold for this network (built on the meta device: no
    memory, no time)."""
    with torch.device("meta"):
        generator = Generator(config)
    return {
        k: tuple(v.shape) for k, v in generator.state_dict().items() if not _is_instance_norm(k)
    }


def discriminator_shapes(channels: int) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        discriminator = Discriminator(channels)
    return {k: tuple(v.shape) for k, v in discriminator.state_dict().items()}


def read_biggan_state(path: Path) -> dict[str, torch.Tensor]:
    """A BigGAN state_dict, without the `G.` prefix a Colorizer checkpoint would add."""
    state = read_state_dict(path)
    if state and all(k.startswith("G.") for k in state):
        state = {k.removeprefix("G."): v for k, v in state.items()}
    return state


def check_fits(
    state: dict[str, torch.Tensor], expected: dict[str, tuple[int, ...]], source: str
) -> list[str]:
    """Raise WeightsInvalid unless `state` has every expected key with its shape; returns the keys
    it has beyond them (the official loads are non-strict, so these are ignored)."""
    missing = [k for k in expected if k not in state]
    if missing:
        raise WeightsInvalid(
            f"{source} lacks {len(missing)} of the network's {len(expected)} tensors "
            f"(e.g. {', '.join(missing[:3])})."
        )
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise WeightsInvalid(
                f"{source} does not fit this network: {key} should be {shape}, "
                f"the file has {tuple(state[key].shape)}."
            )
    return [k for k in state if k not in expected]


def check_generator_file(path: Path) -> None:
    """The weights manager's check of G_ema_256.pth (no published checksum): it must load into
    the full-size BigColor generator."""
    check_fits(read_biggan_state(Path(path)), generator_shapes(PRETRAINED_CONFIG), Path(path).name)


def check_discriminator_file(path: Path) -> None:
    """The weights manager's check of D_256.pth: it must load into BigGAN-256's discriminator."""
    check_fits(
        read_state_dict(Path(path)), discriminator_shapes(PRETRAINED_D_CHANNELS), Path(path).name
    )
