"""Linear layers in int8 for `fast`'s float32 path on the CPU (ml.inference): weights quantized
once per output channel (symmetric), activations quantized per call from their own range
(dynamic quantization), the products summed in int32 by fbgemm (VNNI where the processor has
it) and scaled back to float32.

DDColor-L spends half its time in its ConvNeXt encoder's pointwise MLPs, three quarters of
them in its third stage (27 blocks of 768 -> 3072 -> 768 channels at 1/16 scale): in int8 they
run about 3x faster than oneDNN's float32 products on an AVX-512 CPU. The result moves by the
quantization's rounding (activations to 7 bits, as fbgemm needs on x86 to keep its 16-bit sums
from saturating; weights to 8), which the network's tolerance test and `python -m ml.benchmark
--tolerance` measure.

A network opts in by naming the submodules whose nn.Linear layers may run so (its class's
`int8_modules`); ml.inference installs them on its eager float32 `fast` path on the CPU
(`install`) and removes them on the way back to `exact` (`remove`). The quantized weights are
made at a layer's first call and kept (a quarter of the float32 weights: `held_bytes`).
PyTorch has deprecated its eager quantization front end (torch.ao.quantization); this module
calls fbgemm's two operators (quantized::linear_prepack, quantized::linear_dynamic) directly,
which the pinned PyTorch has and the tests exercise.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from ml import layer_forwards

ATTRIBUTE = "int8_modules"
PACKED = "_int8_packed"  # where an installed network keeps its packed weights and their sizes
QMAX = 127  # symmetric int8 weights: [-127, 127], zero point 0


def opted_in(module: nn.Module) -> list[nn.Linear]:
    """The plain nn.Linear layers under the submodules a network names in its `int8_modules`."""
    return [m for m in layer_forwards.opted_in(module, ATTRIBUTE) if type(m) is nn.Linear]


def available() -> bool:
    """Whether this PyTorch build has fbgemm's int8 kernels (x86 builds do)."""
    return "fbgemm" in torch.backends.quantized.supported_engines


def pack(linear: nn.Linear) -> tuple[Any, int]:
    """The layer's weight quantized per output channel and packed for fbgemm, and its bytes."""
    weight = linear.weight.detach().float()
    scales = weight.abs().amax(dim=1).clamp_min(1e-12) / QMAX
    zeros = torch.zeros(len(scales), dtype=torch.long)
    with warnings.catch_warnings():  # the quantized-tensor constructors warn of deprecation
        warnings.simplefilter("ignore", UserWarning)
        quantized = torch.quantize_per_channel(weight, scales.double(), zeros, 0, torch.qint8)
        bias = None if linear.bias is None else linear.bias.detach().float()
        packed = torch.ops.quantized.linear_prepack(quantized, bias)
    return packed, weight.numel() + 16 * len(scales)


def _forward(linear: nn.Linear, made: dict, x: torch.Tensor) -> torch.Tensor:
    """The layer's forward once installed: int8 for a float32 CPU input, else its own."""
    if x.dtype != torch.float32 or x.device.type != "cpu" or linear.training:
        return nn.Linear.forward(linear, x)
    if linear not in made:
        with torch.no_grad():
            made[linear] = pack(linear)
    return torch.ops.quantized.linear_dynamic(x, made[linear][0], reduce_range=True)


def install(module: nn.Module) -> None:
    """From now on (until `remove`), the network's opted-in linear layers run in int8."""
    layer_forwards.install(module, PACKED, _forward, lambda: [(m, ()) for m in opted_in(module)])


def remove(module: nn.Module) -> None:
    """The opted-in layers run in float32 again, their packed weights let go."""
    layer_forwards.remove(module, PACKED, _forward, opted_in(module))


def held_bytes(module: nn.Module) -> int:
    """Bytes of the packed int8 weights (an estimate: the weights and their scales)."""
    return sum(size for _, size in layer_forwards.made(module, PACKED))


def installed(module: nn.Module) -> Any:
    """`install` for a with-block, then `remove`."""
    return layer_forwards.installed(install, remove, module)
