"""DeOldify's generators (Jason Antic, MIT licence): Artistic and Stable, in plain PyTorch.

The official generators are fastai v1 `DynamicUnetDeep` (Artistic: ResNet-34 encoder, nf_factor
1.5) and `DynamicUnetWide` (Stable and Video: ResNet-101, nf_factor 2) with spectral norm, an
extra BatchNorm after every decoder conv, self-attention, blur and a last cross connection. The
fastai on PyPI is v2, whose conv blocks are ordered conv -> norm -> act and named differently, so
its building blocks cannot reproduce the official state_dict; the module tree below does, key for
key (`layers.N...`, `weight_orig`/`weight_u`/`weight_v`, `weight_g`/`weight_v`), and loads the
official files unchanged.

Spectral and weight norm are written out here rather than taken from torch.nn.utils (deprecated
there) so that what happens at eval time is explicit: W = weight_orig / (u . W v) with the stored
u and v and no power iteration, exactly what the official models computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision
from PIL import Image
from torch import nn
from torch.nn import functional as F

from ml import inference
from ml.catalogue.deoldify import RENDER_FACTOR
from ml.checkpoints import load_into
from ml.color import YUV_FROM_RGB, Chroma
from ml.imagenet import denormalise, normalise
from ml.inference import float32_weights

RENDER_BASE = 16  # the model's square input is render_factor x 16 pixels
DEFAULT_RENDER_FACTOR = RENDER_FACTOR.default  # the catalogue's (the official default)
MIN_RENDER_FACTOR, MAX_RENDER_FACTOR = 7, 45
Y_RANGE = (-3.0, 3.0)
# fastai's DynamicUnet taps a ResNet body (conv1, bn1, relu, maxpool, layer1..4) wherever the
# feature map shrinks: after relu (1/2), layer1 (1/4), layer2 (1/8) and layer3 (1/16).
SKIP_INDICES = (6, 5, 4, 2)


# --- Normalised convolutions --------------------------------------------------------------------


class SpectralNormConv(nn.Module):
    """A Conv1d/Conv2d whose weight is divided by its largest singular value (Miyato et al.).

    State: `weight_orig` (the learnt weight), `bias`, and buffers `weight_u` [out] and
    `weight_v` [in * k * k], the power-iteration vectors. Training runs one power iteration per
    call (as torch.nn.utils.spectral_norm does); eval uses u and v as stored.
    """

    eps = 1e-12

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        bias: bool,
        padding: int | None = None,
        stride: int = 1,
        dims: int = 2,
    ) -> None:
        super().__init__()
        self.dims = dims
        self.stride = stride
        self.padding = (kernel_size - 1) // 2 if padding is None else padding
        shape = (out_channels, in_channels) + (kernel_size,) * dims
        self.weight_orig = nn.Parameter(torch.empty(shape))
        nn.init.kaiming_normal_(self.weight_orig)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        fan = in_channels * kernel_size**dims
        self.register_buffer(
            "weight_u", F.normalize(torch.randn(out_channels), dim=0, eps=self.eps)
        )
        self.register_buffer("weight_v", F.normalize(torch.randn(fan), dim=0, eps=self.eps))
        # Start from a converged estimate, so that a fresh network's sigma is the real largest
        # singular value and not a random (possibly tiny) number; loading a checkpoint replaces
        # u and v anyway.
        for _ in range(15):
            self._power_iteration()

    @torch.no_grad()
    def _power_iteration(self) -> None:
        matrix = self.weight_orig.flatten(1)
        F.normalize(matrix.t() @ self.weight_u, dim=0, eps=self.eps, out=self.weight_v)
        F.normalize(matrix @ self.weight_v, dim=0, eps=self.eps, out=self.weight_u)

    def normalised_weight(self) -> torch.Tensor:
        matrix = self.weight_orig.flatten(1)
        u, v = self.weight_u, self.weight_v
        if self.training:
            self._power_iteration()
            # Clones keep autograd from seeing the in-place updates of the next call.
            u, v = u.clone(), v.clone()
        with float32_weights(matrix):  # under a fast path's autocast too (ml.inference)
            sigma = torch.dot(u, matrix @ v)
        return self.weight_orig / sigma

    def as_conv2d(self) -> tuple | None:
        """What it computes as a 2-D convolution (weight, bias, stride, padding, dilation,
        groups), for ml.winograd; None for the 1-D ones and while training (where reading the
        weight would run a power iteration)."""
        if self.dims != 2 or self.training:
            return None
        return self.normalised_weight().detach(), self.bias, self.stride, self.padding, 1, 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = F.conv2d if self.dims == 2 else F.conv1d
        return conv(
            x, self.normalised_weight(), self.bias, stride=self.stride, padding=self.padding
        )


class WeightNormConv2d(nn.Module):
    """A Conv2d with weight = weight_v * weight_g / ||weight_v|| per output channel (Salimans &
    Kingma); state `weight_g` [out, 1, 1, 1], `weight_v` and `bias`, as torch's weight_norm."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1) -> None:
        super().__init__()
        weight = torch.empty(out_channels, in_channels, kernel_size, kernel_size)
        nn.init.kaiming_normal_(weight)
        self.padding = (kernel_size - 1) // 2
        self.weight_g = nn.Parameter(weight.flatten(1).norm(dim=1).view(-1, 1, 1, 1))
        self.weight_v = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = self.weight_v.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        return F.conv2d(x, self.weight_v * (self.weight_g / norm), self.bias, padding=self.padding)


def _icnr_(conv: SpectralNormConv | WeightNormConv2d, scale: int = 2) -> None:
    """ICNR init (Aitken et al.): each sub-pixel group starts equal, so a fresh pixel shuffle
    upsamples without checkerboard artefacts. Only matters for training from scratch."""
    weight = conv.weight_orig if isinstance(conv, SpectralNormConv) else conv.weight_v
    out_channels, *rest = weight.shape
    base = torch.empty(out_channels // scale**2, *rest)
    nn.init.kaiming_normal_(base)
    with torch.no_grad():
        weight.copy_(base.repeat_interleave(scale**2, dim=0))
        if isinstance(conv, WeightNormConv2d):
            conv.weight_g.copy_(conv.weight_v.flatten(1).norm(dim=1).view(-1, 1, 1, 1))
        else:
            for _ in range(15):
                conv._power_iteration()


# --- Blocks (module names as in fastai v1 / DeOldify) -------------------------------------------


def conv_block(
    in_channels: int, out_channels: int, *, kernel_size: int = 3, self_attention: bool = False
) -> nn.Sequential:
    """fastai v1's custom_conv_layer with spectral norm and extra_bn: conv (no bias), ReLU, BN."""
    layers: list[nn.Module] = [
        SpectralNormConv(in_channels, out_channels, kernel_size, bias=False),
        nn.ReLU(inplace=True),
        nn.BatchNorm2d(out_channels),
    ]
    if self_attention:
        layers.append(SelfAttention(out_channels))
    return nn.Sequential(*layers)


class SelfAttention(nn.Module):
    """SAGAN self-attention over all positions, with a learnt gate `gamma` starting at 0."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.query = SpectralNormConv(channels, channels // 8, 1, bias=False, dims=1)
        self.key = SpectralNormConv(channels, channels // 8, 1, bias=False, dims=1)
        self.value = SpectralNormConv(channels, channels, 1, bias=False, dims=1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape
        flat = x.flatten(2)
        query, key, value = self.query(flat), self.key(flat), self.value(flat)
        # Softmax over dim 1 (the attending position), as the official layer does.
        beta = torch.softmax(torch.bmm(query.transpose(1, 2), key), dim=1)
        out = self.gamma * torch.bmm(value, beta) + flat
        return out.view(size)


class Blur(nn.Module):
    """Replication pad on the top and left, then a 2x2 mean: smooths pixel-shuffle checkerboards.
    (The official layer always runs it, whatever its `blur` flag says.)"""

    def __init__(self) -> None:
        super().__init__()
        self.pad = nn.ReplicationPad2d((1, 0, 1, 0))
        self.blur = nn.AvgPool2d(2, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blur(self.pad(x))


class PixelShuffleUpsample(nn.Module):
    """Upsample x2: a 1x1 conv to 4x the channels (`conv`), ReLU, pixel shuffle, blur.

    Decoder blocks use a spectral-norm conv + BatchNorm (fastai v1's CustomPixelShuffle_ICNR);
    the last upsampling a weight-normed conv with bias (PixelShuffle_ICNR).
    """

    def __init__(self, conv: nn.Sequential) -> None:
        super().__init__()
        self.conv = conv
        _icnr_(self.conv[0])
        self.shuf = nn.PixelShuffle(2)
        self.blur = Blur()
        self.relu = nn.ReLU(inplace=True)

    @classmethod
    def spectral(cls, in_channels: int, out_channels: int) -> PixelShuffleUpsample:
        return cls(
            nn.Sequential(
                SpectralNormConv(in_channels, out_channels * 4, 1, bias=False),
                nn.BatchNorm2d(out_channels * 4),
            )
        )

    @classmethod
    def weight_normed(cls, channels: int) -> PixelShuffleUpsample:
        return cls(nn.Sequential(WeightNormConv2d(channels, channels * 4)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blur(self.shuf(self.relu(self.conv(x))))


class _UnetBlock(nn.Module):
    """Upsample the decoder path, join the encoder's skip feature (batch-normed), convolve."""

    shuf: PixelShuffleUpsample
    bn: nn.BatchNorm2d

    def join(self, up_in: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.shuf(up_in)
        if up.shape[-2:] != skip.shape[-2:]:  # odd sizes: the encoder rounded up on the way down
            up = F.interpolate(up, skip.shape[-2:], mode="nearest")
        return F.relu(torch.cat([up, self.bn(skip)], dim=1))


class UnetBlockDeep(_UnetBlock):
    """Artistic's decoder block: two convs, nf_factor x wider than the joined input."""

    def __init__(
        self,
        up_in_channels: int,
        skip_channels: int,
        *,
        final_div: bool,
        nf_factor: float,
        self_attention: bool = False,
    ) -> None:
        super().__init__()
        self.shuf = PixelShuffleUpsample.spectral(up_in_channels, up_in_channels // 2)
        self.bn = nn.BatchNorm2d(skip_channels)
        joined = up_in_channels // 2 + skip_channels
        out = int((joined if final_div else joined // 2) * nf_factor)
        self.conv1 = conv_block(joined, out)
        self.conv2 = conv_block(out, out, self_attention=self_attention)
        self.out_channels = out

    def forward(self, up_in: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(self.join(up_in, skip)))


class UnetBlockWide(_UnetBlock):
    """Stable's decoder block: one conv, a fixed width of 512 x nf_factor shared with the
    upsampling path."""

    def __init__(
        self,
        up_in_channels: int,
        skip_channels: int,
        *,
        n_out: int,
        self_attention: bool = False,
    ) -> None:
        super().__init__()
        half = n_out // 2
        self.shuf = PixelShuffleUpsample.spectral(up_in_channels, half)
        self.bn = nn.BatchNorm2d(skip_channels)
        self.conv = conv_block(half + skip_channels, half, self_attention=self_attention)
        self.out_channels = half

    def forward(self, up_in: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(self.join(up_in, skip))


class ResBlock(nn.Module):
    """fastai v1's res_block with spectral norm: two 3x3 convs (bias, ReLU) and x + f(x)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [
                nn.Sequential(
                    SpectralNormConv(channels, channels, 3, bias=True), nn.ReLU(inplace=True)
                ),
                nn.Sequential(
                    SpectralNormConv(channels, channels, 3, bias=True), nn.ReLU(inplace=True)
                ),
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers[1](self.layers[0](x))


class InputCrossConnection(nn.Module):
    """fastai's MergeLayer(dense=True) at the top level: concatenate the network's input."""

    def forward(self, x: torch.Tensor, network_input: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, network_input], dim=1)


class SigmoidRange(nn.Module):
    def __init__(self, low: float, high: float) -> None:
        super().__init__()
        self.low, self.high = low, high

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x) * (self.high - self.low) + self.low


# --- The generator ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Architecture:
    """What distinguishes DeOldify variants: encoder, decoder kind and decoder width."""

    encoder: str  # a torchvision ResNet: resnet18, resnet34, resnet50, resnet101
    decoder: str  # "deep" (Artistic) or "wide" (Stable, Video)
    nf_factor: float


ARCHITECTURES: dict[str, Architecture] = {
    "artistic": Architecture("resnet34", "deep", 1.5),
    "stable": Architecture("resnet101", "wide", 2.0),
    "video": Architecture("resnet101", "wide", 2.0),
}


def resnet_body(name: str) -> nn.Sequential:
    """A torchvision ResNet without its pooling and classifier (fastai's create_body), randomly
    initialised: the ImageNet weights come with the generator's own checkpoint."""
    resnet = getattr(torchvision.models, name)(weights=None)
    return nn.Sequential(*list(resnet.children())[:-2])


def _body_channels(body: nn.Sequential) -> dict[int, int]:
    """Output channels of each child of a ResNet body, by index."""
    channels, current = {}, 3
    for index, child in enumerate(body):
        if isinstance(child, nn.Conv2d):
            current = child.out_channels
        elif isinstance(child, nn.Sequential):  # layer1..4: the last block's last conv or BN
            last = child[-1]
            current = (last.bn3 if hasattr(last, "bn3") else last.bn2).num_features
        channels[index] = current
    return channels


class DeOldifyGenerator(nn.Module):
    """Gray photo (3 identical channels, ImageNet-normalised) -> RGB in ImageNet-normalised units
    within (-3, 3). Any input size works; the official recipe uses squares of 16 x render factor."""

    # Where `fast` in float32 may run 3 x 3 convolutions by Winograd's algorithm
    # (ml.winograd): everywhere. Most of the time goes to the decoder's 300-768-channel
    # convolutions at 1/8 to full scale (the last ResBlock's two at full scale: about half).
    winograd_modules = ("layers",)

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        self.arch = arch
        body = resnet_body(arch.encoder)
        channels = _body_channels(body)
        top = channels[len(body) - 1]
        layers: list[nn.Module] = [
            body,
            nn.BatchNorm2d(top),
            nn.ReLU(),
            nn.Sequential(conv_block(top, top * 2), conv_block(top * 2, top)),
        ]
        up = top
        wide_nf = int(512 * arch.nf_factor)
        for i, index in enumerate(SKIP_INDICES):
            not_final = i != len(SKIP_INDICES) - 1
            attention = i == len(SKIP_INDICES) - 3  # at 1/8 scale: affordable, still global
            if arch.decoder == "deep":
                block: UnetBlockDeep | UnetBlockWide = UnetBlockDeep(
                    up,
                    channels[index],
                    final_div=not_final,
                    nf_factor=arch.nf_factor,
                    self_attention=attention,
                )
            else:
                block = UnetBlockWide(
                    up,
                    channels[index],
                    n_out=wide_nf if not_final else wide_nf // 2,
                    self_attention=attention,
                )
            layers.append(block)
            up = block.out_channels
        merged = up + 3
        layers += [
            PixelShuffleUpsample.weight_normed(up),
            InputCrossConnection(),
            ResBlock(merged),
            nn.Sequential(SpectralNormConv(merged, 3, 1, bias=True)),
            SigmoidRange(*Y_RANGE),
        ]
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        body, bn, relu, middle, *blocks = self.layers[:8]
        skips = {}
        h = x
        for index, child in enumerate(body):
            h = child(h)
            if index in SKIP_INDICES:
                skips[index] = h
        h = middle(relu(bn(h)))
        for block, index in zip(blocks, SKIP_INDICES, strict=True):
            h = block(h, skips[index])
        upsample, cross, res, last, out_range = self.layers[8:]
        return out_range(last(res(cross(upsample(h), x))))


def build_generator(variant: str | Architecture) -> DeOldifyGenerator:
    arch = ARCHITECTURES[variant] if isinstance(variant, str) else variant
    return DeOldifyGenerator(arch)


# --- Inference -----------------------------------------------------------------------------------


def model_input(gray: np.ndarray, render_factor: int) -> torch.Tensor:
    """The official pre-processing: stretch to a square of render_factor x 16 (bilinear), gray in
    three channels, /255, ImageNet normalisation. Shape (1, 3, side, side)."""
    side = render_factor * RENDER_BASE
    image = Image.fromarray(np.asarray(gray, dtype=np.float32) * 255.0, mode="F")
    square = np.asarray(image.resize((side, side), resample=Image.BILINEAR), dtype=np.float32)
    square = np.clip(np.round(square), 0, 255) / 255.0  # the official input is 8-bit
    return normalise(torch.from_numpy(square)[None, None].repeat(1, 3, 1, 1))


def rgb_to_uv(rgb: np.ndarray) -> np.ndarray:
    """U, V (BT.601, centred on 0) of RGB in [0, 1], shape (..., 2)."""
    return (rgb.astype(np.float64) @ YUV_FROM_RGB[1:].T).astype(np.float32)


class DeOldifyPredictor:
    """Runs a DeOldify generator as the official ColorizerFilter does, keeping the photo's Y."""

    def __init__(self, weights: Path, device: str, variant: str = "artistic", **arch: Any) -> None:
        self.device = torch.device(device)
        architecture = Architecture(**arch) if arch else ARCHITECTURES[variant]
        self.net = build_generator(architecture)
        load_into(self.net, weights)
        self.net.eval().to(self.device)
        self.run = inference.prepare(self.net, self.device)

    @torch.inference_mode()
    def predict(self, gray: np.ndarray, *, render_factor: int, **_: Any) -> Chroma:
        x = model_input(gray, int(render_factor)).to(self.device)
        rgb = denormalise(self.run(x))[0].permute(1, 2, 0).float().cpu().numpy()
        return Chroma(ab=rgb_to_uv(rgb), space="yuv")


def random_weights(spec: Any, directory: Path) -> Path:
    """Randomly initialised weights in the official layout for `spec` (benchmarks, tests)."""
    from ml.checkpoints import save_half
    from ml.weights import known

    net = build_generator(spec.options.get("variant", "artistic"))
    path = Path(directory) / known(spec.weights).filename
    return save_half(net.state_dict(), path, wrapper="model")
