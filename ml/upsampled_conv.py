"""A 3 x 3 convolution (padding 1) of a map upsampled x2 by nearest neighbours, computed from the
map itself, for `fast` (ml.inference): BigGAN's up blocks (BigColor) make the upsampled map and
convolve it, at 36 multiply-adds per output channel, input channel and small-map pixel.

Every pixel of an output 2 x 2 block sees only 2 x 2 pixels of the small map: the kernel's taps
that fall on the same small pixel add up. So each of the four sub-pixels is a 2 x 2 convolution
of the small map, and the four of them are one 2 x 2 convolution into 4x the channels (padding
1: (H + 1) x (W + 1) outputs, each sub-pixel reading its own window of them), 16 multiply-adds
where the official takes 36 (the bias added by that convolution). The groups are then
interleaved into the output by stacking and reshaping (what ONNX exports; writing each group into
a view of the output does not export faithfully). The upsampled map is never made. On a 2-core
AVX-512 EPYC (Zen 5), channels-last, against the upsampling and oneDNN's direct convolution:
0.47x at 192 -> 96 channels to 256 x 352, 0.49x at 384 -> 192 to 128 x 176, 0.50x at 768 -> 384
to 64 x 88, 0.59x at 768 -> 768 to 32 x 44 (Winograd's algorithm on the upsampled map: 1.52x,
1.08x, 0.93x, 0.81x). The result differs by float32 rounding (the summed taps).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

# For the even (first) and odd (second) rows of the output: which of the 3 x 3 kernel's rows
# act on the small map's rows i - 1 and i (even), i and i + 1 (odd): the rows of the 2 x 2
# kernel, as sums of the 3 x 3 kernel's rows. The same for columns.
_TAPS = (((1, 0, 0), (0, 1, 1)), ((1, 1, 0), (0, 0, 1)))


def kernels(weight: torch.Tensor) -> torch.Tensor:
    """The four sub-pixels' 2 x 2 kernels of a 3 x 3 weight (out, in, 3, 3), as one weight
    (4 x out, in, 2, 2): sub-pixel (a, b) (row, column parity) is channels (2a + b) x out on."""
    taps = torch.tensor(_TAPS, dtype=weight.dtype, device=weight.device)
    out_channels, in_channels = weight.shape[:2]
    combined = torch.einsum("arj,ocjl,bsl->abocrs", taps, weight, taps)
    return combined.reshape(4 * out_channels, in_channels, 2, 2)


def conv(x: torch.Tensor, combined: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """conv3x3(upsample_nearest_x2(x)) (N, out, 2H, 2W), channels-last in memory, from x
    (N, in, H, W), `kernels`' result and the bias."""
    n, _, height, width = x.shape
    out_channels = combined.shape[0] // 4
    biases = None if bias is None else bias.repeat(4)
    # (N, H + 1, W + 1, 4 x out): sub-pixel (a, b) of output block (i, j) is at (i + a, j + b).
    groups = F.conv2d(x, combined, biases, padding=1).permute(0, 2, 3, 1)
    subpixels = [
        groups[:, a : a + height, b : b + width, (2 * a + b) * out_channels :][..., :out_channels]
        for a in (0, 1)
        for b in (0, 1)
    ]
    # (N, H, 2 rows, W, 2 columns, out), then the blocks' rows and columns joined.
    blocks = torch.stack(subpixels, dim=3).unflatten(3, (2, 2)).permute(0, 1, 3, 2, 4, 5)
    return blocks.reshape(n, 2 * height, 2 * width, out_channels).permute(0, 3, 1, 2)


class UpsampledConv(nn.Module):
    """`source(upsample_nearest_x2(x))` for a 3 x 3 convolution module of padding 1 (a plain
    nn.Conv2d, or one that says what it computes with `as_conv2d()`, as BigColor's spectral-norm
    convolutions do), at eval. The combined kernels are made at the first call and kept while
    the source's weights and buffers stay the same tensors, unmodified."""

    def __init__(self, source: nn.Module) -> None:
        super().__init__()
        # Not a submodule: the network's state_dict keeps its own keys, once.
        object.__setattr__(self, "source", source)
        self._made: tuple[Any, torch.Tensor, torch.Tensor | None] | None = None

    def _made_for(self) -> tuple:
        tensors = [*self.source.parameters(), *self.source.buffers()]
        return tuple((t.data_ptr(), t._version, t.device, t.dtype) for t in tensors)

    def _weight_and_bias(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        declared = getattr(self.source, "as_conv2d", None)
        conv = declared() if callable(declared) else (self.source.weight, self.source.bias)
        if conv is None:
            raise RuntimeError("UpsampledConv runs at eval only")
        return conv[0], conv[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        version = self._made_for()
        if self._made is None or self._made[0] != version:
            with torch.no_grad():
                weight, bias = self._weight_and_bias()
                combined = kernels(weight.detach()).contiguous(memory_format=torch.channels_last)
                self._made = (version, combined, None if bias is None else bias.detach())
        return conv(x, self._made[1], self._made[2])

    def forget(self) -> None:
        """Let the combined kernels go (the network leaves `fast`)."""
        self._made = None
