"""oneDNN's float32 matrix products for `fast`'s eager path on the CPU (ml.inference), where
PyTorch would call MKL: the linear layers and attention projections a network opts in to, and
ml.winograd's 36 products per tile.

PyTorch runs `F.linear`, `torch.bmm` and `torch.mm` of float32 CPU tensors on MKL, which runs
its AVX2 code on AMD processors. oneDNN's product (`mkldnn::_linear_pointwise`, the operator
PyTorch's compiler calls for linear layers) runs the processor's own (AVX-512 there), with the
weight reordered once into its layout (`packed`). Measured per product, one process, medians
of 20, float32:

- 2-core AMD EPYC, Zen 5: MKL 86-98 G multiply-adds a second, oneDNN 223;
- 2-core AMD EPYC, Zen 4, DDColor-T's shapes at 512 x 512: 16384 tokens 256 -> 256 (the
  cross-attention's key and value projections) 31 G against 75, 16384 x 96 -> 384 (ConvNeXt's
  first stage) 66 against 90, 256 x 768 -> 3072 69 against 101, 1024 x 1536 -> 384 92 against 99.

The results differ from MKL's by float32 rounding (another summation order).

A network opts in by naming submodules (its class's `onednn_modules`): their plain nn.Linear
layers and nn.MultiheadAttention layers then run on oneDNN (`install`, until `remove`), their
weights packed at first use and kept (`held_bytes`: as many bytes as the weights).
"""

from __future__ import annotations

import functools
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ml import layer_forwards

ATTRIBUTE = "onednn_modules"
PACKED = "_onednn_packed"  # where an installed network keeps its packed weights
# relu_mlp's rows a band: 64-384 ran alike for DDColor's 4096 hidden channels (4 MB a band).
BAND_ROWS = 256


@functools.cache
def product() -> Any:
    """oneDNN's float32 product `(x, weight, bias, "none", [], "")` -> x @ weight.T + bias
    (weight as nn.Linear's, or `packed`), or None where this PyTorch build lacks it."""
    if not torch.backends.mkldnn.is_available():
        return None
    return getattr(torch.ops.mkldnn, "_linear_pointwise", None)


def available() -> bool:
    """Whether this PyTorch build has oneDNN's product (x86 and ARM builds do)."""
    return product() is not None


def packed(weight: torch.Tensor, rows: int) -> torch.Tensor:
    """A (out, in) weight reordered once into oneDNN's layout for products of about `rows` rows
    (the layout depends on it; any row count gives the same result). Reordered at every product
    instead, 512 x 512 weights of 64 rows ran at 100 G multiply-adds a second, packed at 164
    (2-core Zen 5 EPYC); the results are the same bits. As it is where oneDNN is absent."""
    if product() is None:
        return weight
    return torch.ops.mkldnn._reorder_linear_weight(weight.detach().contiguous(), max(1, rows))


def linear(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, activation: str = "none"
) -> torch.Tensor:
    """F.linear(x, weight, bias) by oneDNN where it is (weight: nn.Linear's, or `packed`'s),
    then `activation` ("none" or "relu", which oneDNN applies as it writes each result)."""
    run = product()
    if run is None:
        out = F.linear(x, weight, bias)
        return F.relu(out) if activation == "relu" else out
    return run(x, weight, bias, activation, [], "")


def relu_mlp(
    x: torch.Tensor, first: torch.Tensor, bias: torch.Tensor | None, second: torch.Tensor
) -> torch.Tensor:
    """relu(x @ first.T + bias) @ second.T for x (rows, in), a band of BAND_ROWS rows at a time
    on oneDNN: the hidden layer stays in the cache, never whole. DDColor's last upsampling (256
    -> 4096 channels at a quarter of 512 x 512, then 32 planes): 0.19 s where the convolution,
    the ReLU and the product took 0.35 (2-core Zen 4 EPYC). As one product each elsewhere (no
    oneDNN, an input that is not float32 on the CPU, autocast, an ONNX export)."""
    if not _runs(x, first, second) or torch.is_autocast_enabled("cpu") or _exporting():
        return F.linear(F.relu(F.linear(x, first, bias)), second)
    first, second = packed(first, BAND_ROWS), packed(second, BAND_ROWS)
    out = x.new_empty((x.shape[0], second.shape[0]))
    for start in range(0, x.shape[0], BAND_ROWS):
        hidden = linear(x[start : start + BAND_ROWS], first, bias, "relu")
        out[start : start + BAND_ROWS] = linear(hidden, second, None)
    return out


def _exporting() -> bool:
    return torch.onnx.is_in_onnx_export()


def _runs(*inputs: torch.Tensor) -> bool:
    """Whether oneDNN's product runs these: float32 CPU tensors, where PyTorch has it."""
    return product() is not None and all(
        x.dtype == torch.float32 and x.device.type == "cpu" for x in inputs
    )


def _suits(layer: nn.Module, *inputs: torch.Tensor) -> bool:
    return not layer.training and _runs(*inputs)


def _rows(x: torch.Tensor) -> int:
    return x.numel() // max(1, x.shape[-1])


def _linear_forward(layer: nn.Linear, made: dict, x: torch.Tensor) -> torch.Tensor:
    """An nn.Linear's forward once installed: oneDNN's product for a float32 CPU input."""
    if not _suits(layer, x):
        return nn.Linear.forward(layer, x)
    if layer not in made:
        made[layer] = packed(layer.weight, _rows(x))
    return linear(x, made[layer], layer.bias)


def _attention_forward(
    attention: nn.MultiheadAttention,
    made: dict,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    key_padding_mask: torch.Tensor | None = None,
    need_weights: bool = True,
    attn_mask: torch.Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple[torch.Tensor, None]:
    """An nn.MultiheadAttention's forward once installed: its four projections by oneDNN, the
    attention by PyTorch's fused kernel, as the official forward computes it without weights
    and masks (batch first); anything else runs the official forward."""
    plain = (
        attention.batch_first
        and not need_weights
        and key_padding_mask is None
        and attn_mask is None
        and not is_causal
        and attention._qkv_same_embed_dim
        and attention.in_proj_bias is not None
        and attention.bias_k is None
        and not attention.add_zero_attn
        and query.dim() == 3
        and _suits(attention, query, key, value)
    )
    if not plain:
        return nn.MultiheadAttention.forward(
            attention, query, key, value, key_padding_mask, need_weights, attn_mask,
            average_attn_weights, is_causal,
        )  # fmt: skip
    if attention not in made:
        projections = (*attention.in_proj_weight.chunk(3), attention.out_proj.weight)
        rows = (_rows(query), _rows(key), _rows(value), _rows(query))
        made[attention] = [packed(w, r) for w, r in zip(projections, rows, strict=True)]
    weights, biases = made[attention], attention.in_proj_bias.chunk(3)
    batch, length, dim = query.shape
    heads = attention.num_heads
    q, k, v = (
        linear(x, w, b).unflatten(-1, (heads, dim // heads)).transpose(1, 2)
        for x, w, b in zip((query, key, value), weights[:3], biases, strict=True)
    )
    attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(batch, length, dim)
    return linear(attended, weights[3], attention.out_proj.bias), None


_FORWARDS = {nn.Linear: _linear_forward, nn.MultiheadAttention: _attention_forward}


def opted_in(module: nn.Module) -> list[nn.Module]:
    """The plain nn.Linear and nn.MultiheadAttention layers under the submodules a network names
    in its `onednn_modules` (not nn.MultiheadAttention's own output projection: the attention's
    forward computes it)."""
    return [m for m in layer_forwards.opted_in(module, ATTRIBUTE) if type(m) in _FORWARDS]


def install(module: nn.Module) -> None:
    """From now on (until `remove`), the network's opted-in layers run their products on oneDNN
    where the input suits (float32, on the CPU, not training)."""
    layer_forwards.install(module, PACKED, _forward, lambda: [(m, ()) for m in opted_in(module)])


def _forward(layer: nn.Module, made: dict, *args: Any, **kwargs: Any) -> Any:
    return _FORWARDS[type(layer)](layer, made, *args, **kwargs)


def remove(module: nn.Module) -> None:
    """The opted-in layers run their own forwards again, their packed weights let go."""
    layer_forwards.remove(module, PACKED, _forward, opted_in(module))


def held_bytes(module: nn.Module) -> int:
    """Bytes of the packed weights (as many as the float32 weights they copy)."""
    return layer_forwards.tensor_bytes(module, PACKED)


def installed(module: nn.Module) -> Any:
    """`install` for a with-block, then `remove`."""
    return layer_forwards.installed(install, remove, module)
