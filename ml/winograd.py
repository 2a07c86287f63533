"""3 x 3 convolutions by Winograd's minimal filtering, F(4 x 4, 3 x 3), for `fast`'s float32
trace (ml.inference): 36 multiplications for each 4 x 4 output tile and channel pair where a
direct convolution makes 144.

Zhang's networks spend most of their time in 3 x 3 convolutions of 256-512 channels at 32 x 32
and 64 x 64, where oneDNN's direct convolution already runs near the processor's float32 peak:
only fewer multiplications make them faster. Each tile of the input (6 x 6, overlapping by 2)
is transformed (B^T d B), multiplied channel by channel with the transformed filters (G g G^T,
computed once, in float64) as 36 matrix products, and transformed back (A^T m A). Measured on a
2-core AVX-512 EPYC, channels-last, against oneDNN's direct convolution: 0.5x at 512 channels
and 32 x 32, 0.63x at 256 and 64 x 64, 0.86x at 128 and 128 x 128, but 3.2x at 64 and
256 x 256, where moving the tiles costs more than the multiplications saved (so below
MIN_CHANNELS a convolution stays as it is). The result differs from the direct convolution by
float32 rounding (about 1e-5 of the output's range). A dilation of 2 runs as four interleaved
sub-images at dilation 1 (space to batch).

A network opts in by naming the submodules whose convolutions may take this path (its class's
`winograd_modules`); ml.inference traces them so (`traced_as_winograd`), in float32 only: the
transforms' sums of large and small terms would lose too much in bfloat16.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

OUT_TILE = 4  # m: a tile's outputs per side
IN_TILE = OUT_TILE + 2  # m + r - 1: a tile's inputs per side
MIN_CHANNELS = 128  # below (input or output channels) the direct convolution won
ATTRIBUTE = "winograd_modules"

# Lavin and Gray's matrices for F(4 x 4, 3 x 3) (interpolation points 0, +-1, +-2, infinity).
_B_T = (
    (4, 0, -5, 0, 1, 0),
    (0, -4, -4, 1, 1, 0),
    (0, 4, -4, -1, 1, 0),
    (0, -2, -1, 2, 1, 0),
    (0, 2, -1, -2, 1, 0),
    (0, 4, 0, -5, 0, 1),
)
_G = (
    (1 / 4, 0, 0),
    (-1 / 6, -1 / 6, -1 / 6),
    (-1 / 6, 1 / 6, -1 / 6),
    (1 / 24, 1 / 12, 1 / 6),
    (1 / 24, -1 / 12, 1 / 6),
    (0, 0, 1),
)
_A_T = (
    (1, 1, 1, 1, 1, 0),
    (0, 1, -1, 2, -2, 0),
    (0, 1, 1, 4, 4, 0),
    (0, 1, -1, 8, -8, 1),
)


@functools.cache
def _transforms() -> tuple[torch.Tensor, torch.Tensor]:
    """The input and output transforms of a whole tile as one matrix each (Kronecker products:
    a flattened 6 x 6 tile times B^T (x) B^T is B^T d B, flattened)."""
    b_t, a_t = (torch.tensor(m, dtype=torch.float64) for m in (_B_T, _A_T))
    return torch.kron(b_t, b_t).float(), torch.kron(a_t, a_t).float()


def filters(weight: torch.Tensor) -> torch.Tensor:
    """The transformed filters G g G^T of a (out, in, 3, 3) weight, as (36, in, out) float32."""
    g = torch.tensor(_G, dtype=torch.float64)
    out_channels, in_channels = weight.shape[:2]
    transformed = torch.einsum("ai,oxij,bj->abxo", g, weight.detach().double(), g)
    return transformed.reshape(IN_TILE * IN_TILE, in_channels, out_channels).float().contiguous()


def conv3x3(x: torch.Tensor, transformed: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """A 3 x 3 convolution (stride 1, padding 1) of x (N, C, H, W) with `filters`' result."""
    m, a = OUT_TILE, IN_TILE
    n, _, height, width = x.shape
    out_channels = transformed.shape[2]
    rows, cols = -(-height // m), -(-width // m)
    # Channels last: each tile position's channels lie together, rows of the products below.
    nhwc = x.permute(0, 2, 3, 1)
    padded = F.pad(nhwc, (0, 0, 1, m * cols + 1 - width, 1, m * rows + 1 - height))
    tiles = padded.unfold(1, a, m).unfold(2, a, m)  # (N, rows, cols, C, 6, 6)
    b_b, a_a = _transforms()
    spread = tiles.permute(4, 5, 0, 1, 2, 3).reshape(a * a, -1)
    products = torch.bmm((b_b @ spread).view(a * a, n * rows * cols, -1), transformed)
    out = (a_a @ products.view(a * a, -1)).view(m, m, n, rows, cols, out_channels)
    out = out.permute(2, 3, 0, 4, 1, 5).reshape(n, m * rows, m * cols, out_channels)
    out = out[:, :height, :width]
    if bias is not None:
        out = out + bias
    return out.permute(0, 3, 1, 2)


def _dilated_by_two(x: torch.Tensor, conv: Any) -> torch.Tensor:
    """A convolution at dilation 2 (padding 2) as four at dilation 1 on the even and odd rows
    and columns (H and W even)."""
    n, channels, height, width = x.shape
    h, w = height // 2, width // 2
    split = x.reshape(n, channels, h, 2, w, 2).permute(3, 5, 0, 1, 2, 4)
    out = conv(split.reshape(4 * n, channels, h, w))
    out = out.reshape(2, 2, n, -1, h, w).permute(2, 3, 4, 0, 5, 1)
    return out.reshape(n, -1, height, width)


def suits(conv: nn.Module, x: torch.Tensor) -> bool:
    """Whether this convolution of x takes the Winograd path: a plain 3 x 3 convolution (its
    weight a parameter, no hooks) of stride 1, padding equal to a dilation of 1 or 2 (2 on an
    even size), with MIN_CHANNELS channels or more on both sides, in float32."""
    if type(conv) is not nn.Conv2d or not isinstance(conv.weight, nn.Parameter):
        return False
    dilation = conv.dilation[0]
    return (
        conv.kernel_size == (3, 3)
        and conv.stride == (1, 1)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
        and conv.dilation == (dilation, dilation)
        and conv.padding == conv.dilation
        and (dilation == 1 or (dilation == 2 and x.shape[2] % 2 == 0 == x.shape[3] % 2))
        and min(conv.in_channels, conv.out_channels) >= MIN_CHANNELS
        and x.dtype == torch.float32
        and not conv._forward_pre_hooks
        and not conv._forward_hooks
    )


def _forward(conv: nn.Conv2d, transformed: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    if not suits(conv, x):
        return nn.Conv2d.forward(conv, x)
    run = functools.partial(conv3x3, transformed=transformed, bias=conv.bias)
    return run(x) if conv.dilation[0] == 1 else _dilated_by_two(x, run)


def opted_in(module: nn.Module) -> list[nn.Conv2d]:
    """The 3 x 3 convolutions of the submodules a network names in its `winograd_modules`."""
    names = getattr(module, ATTRIBUTE, ())
    found = (module.get_submodule(name).modules() for name in names)
    return [m for ms in found for m in ms if type(m) is nn.Conv2d and m.kernel_size == (3, 3)]


@contextlib.contextmanager
def traced_as_winograd(module: nn.Module) -> Iterator[None]:
    """Within the block, the network's opted-in convolutions run by Winograd's algorithm where
    they suit it (what a trace made in the block records, with the transformed filters as
    constants); as before after it."""
    convs = opted_in(module)
    for conv in convs:
        conv.forward = functools.partial(_forward, conv, filters(conv.weight))
    _transforms()  # made outside the trace (it records them as constants either way)
    try:
        with warnings.catch_warnings():
            # The trace fixes the shapes that `suits` reads, as it fixes the input's: a trace
            # serves one input shape (ml.inference keeps one per shape).
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            yield
    finally:
        for conv in convs:
            vars(conv).pop("forward", None)
