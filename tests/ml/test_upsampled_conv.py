"""ml.upsampled_conv: a 3 x 3 convolution of a map upsampled x2 (nearest), computed from the map
itself, against the upsampling and the convolution it replaces."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ml import upsampled_conv
from ml.models.bigcolor import SNConv2d
from ml.upsampled_conv import UpsampledConv


def official(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return conv(F.interpolate(x, scale_factor=2))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("channels_last", [False, True])
def test_equals_the_convolution_of_the_upsampled_map(bias, channels_last):
    torch.manual_seed(0)
    conv = nn.Conv2d(5, 7, 3, padding=1, bias=bias).eval()
    x = torch.randn(2, 5, 9, 6)  # odd and even sides, a batch
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        expected = official(conv, x)
        got = UpsampledConv(conv)(x)
    assert got.shape == expected.shape == (2, 7, 18, 12)
    assert torch.allclose(got, expected, atol=1e-5, rtol=1e-5)


def test_kernels_are_the_four_sub_pixels_two_by_two_sums():
    weight = torch.arange(9.0).reshape(1, 1, 3, 3)  # rows (0 1 2), (3 4 5), (6 7 8)
    combined = upsampled_conv.kernels(weight)
    assert combined.shape == (4, 1, 2, 2)
    # Even row, even column: the first row and column alone, then the other two summed.
    assert combined[0, 0].tolist() == [[0, 1 + 2], [3 + 6, 4 + 5 + 7 + 8]]
    # Odd row, odd column: the first two rows and columns summed, then the last alone.
    assert combined[3, 0].tolist() == [[0 + 1 + 3 + 4, 2 + 5], [6 + 7, 8]]


def test_spectral_norm_convolution_at_eval():
    torch.manual_seed(1)
    conv = SNConv2d(6, 4).eval()
    x = torch.randn(1, 6, 5, 7)
    with torch.no_grad():
        assert torch.allclose(UpsampledConv(conv)(x), official(conv, x), atol=1e-5)


def test_new_weights_make_new_kernels():
    torch.manual_seed(2)
    conv = nn.Conv2d(3, 3, 3, padding=1).eval()
    upsampled = UpsampledConv(conv)
    x = torch.randn(1, 3, 4, 4)
    with torch.no_grad():
        before = upsampled(x)
        conv.load_state_dict({"weight": torch.randn(3, 3, 3, 3), "bias": torch.randn(3)})
        after = upsampled(x)
        assert not torch.allclose(before, after)
        assert torch.allclose(after, official(conv, x), atol=1e-5)


def test_it_adds_no_state_and_refuses_training():
    conv = SNConv2d(2, 2)
    holder = nn.Module()
    holder.conv = conv
    holder.upsampled = UpsampledConv(conv)
    assert sorted(holder.state_dict()) == ["conv.bias", "conv.sv0", "conv.u0", "conv.weight"]
    conv.train()
    with pytest.raises(RuntimeError, match="eval only"):
        holder.upsampled(torch.randn(1, 2, 3, 3))
