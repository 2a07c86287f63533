"""int8 linear layers (ml.int8) on `fast`'s float32 path: near the float32 layers, only where a
network opts in, and gone again on the way back to `exact`."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import ml
from ml import inference, int8

pytestmark = pytest.mark.skipif(not int8.available(), reason="this PyTorch has no fbgemm")


class MLPNet(nn.Module):
    int8_modules = ("mlp",)

    def __init__(self) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64))
        self.head = nn.Linear(64, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.mlp(x))


def _net() -> MLPNet:
    torch.manual_seed(0)
    return MLPNet().eval()


def test_only_the_opted_in_linear_layers_are_quantized() -> None:
    net = _net()
    assert int8.opted_in(net) == [net.mlp[0], net.mlp[2]]
    with int8.installed(net):
        assert "forward" in vars(net.mlp[0]) and "forward" not in vars(net.head)


def test_int8_is_near_float32_and_removing_it_restores_float32_bit_for_bit() -> None:
    net = _net()
    x = torch.randn(2, 8, 8, 64)  # channels-last maps, as ConvNeXt's MLPs get them
    with torch.inference_mode():
        exact = net(x)
        int8.install(net)
        quantized = net(x)
        held = int8.held_bytes(net)
        int8.remove(net)
        again = net(x)
    spread = (exact.amax() - exact.amin()).item()
    difference = (quantized - exact).abs()
    assert 0 < difference.max() <= 0.03 * spread  # int8's rounding, not float32's
    assert difference.mean() <= 0.005 * spread
    assert held == (64 * 256 + 256 * 64) + 16 * (256 + 64)  # int8 weights and their scales
    assert int8.held_bytes(net) == 0
    assert torch.equal(again, exact)


def test_other_inputs_keep_the_float_layer() -> None:
    net = _net().double()
    x = torch.randn(4, 64, dtype=torch.float64)
    with torch.inference_mode(), int8.installed(net):
        assert torch.equal(net.mlp[0](x), nn.Linear.forward(net.mlp[0], x))  # not float32
        assert int8.held_bytes(net) == 0  # nothing was quantized
    net = _net().train()
    x = torch.randn(4, 64)
    with int8.installed(net):
        assert torch.equal(net.mlp[0](x), nn.Linear.forward(net.mlp[0], x))  # training: float


def test_a_runner_runs_int8_on_the_cpu_in_float32_fast_only() -> None:
    net = _net()
    x = torch.randn(1, 4, 4, 64)
    runner = inference.prepare(net, "cpu", jit=False)
    with torch.inference_mode():
        exact = runner(x)
        runner.switch("fast", lower=False)  # float32
        assert runner.label == "fast (float32, channels-last, int8)"
        assert not torch.equal(runner(x), exact) and runner.held_bytes() > 0
        runner.switch("exact")
        assert torch.equal(runner(x), exact) and runner.held_bytes() == 0
    ml.configure(bf16="off")
    on_cuda = inference.prepare(net, "cuda", jit=False)
    on_cuda.switch("fast")
    assert on_cuda.kernels == []  # fbgemm's kernels are the CPU's


def test_int8_is_not_used_in_bfloat16(monkeypatch) -> None:
    monkeypatch.setattr(inference, "_cpu_has_bf16", lambda: True)
    ml.configure(bf16="on")
    runner = inference.prepare(_net(), "cpu", jit=False)
    runner.switch("fast")
    assert runner.dtype == torch.bfloat16 and runner.kernels == []
