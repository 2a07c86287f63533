"""3 x 3 convolutions by Winograd's minimal filtering, F(4 x 4, 3 x 3), for `fast`'s float32
path (ml.inference): 36 multiplications for each 4 x 4 output tile and channel pair where a
direct convolution makes 144.

Zhang's networks spend most of their time in 3 x 3 convolutions of 256-512 channels at 32 x 32
and 64 x 64, DeOldify's in 300-768-channel ones from 42 x 42 to full scale, and there oneDNN's
direct convolution already runs near the processor's float32 peak: only fewer multiplications
make them faster. Each tile of the input (6 x 6, overlapping by 2) is transformed (B^T d B),
multiplied channel by channel with the transformed filters (G g G^T, computed once) as 36
matrix products, and transformed back (A^T m A), a band of tile rows at a time so that the
transformed tiles stay in the cache. Measured on a 2-core AVX-512 EPYC, channels-last, against
oneDNN's direct convolution: 0.5x at 512 channels and 32 x 32, 0.63x at 256 and 64 x 64, 0.36x
at 672 and 84 x 84, 0.64x at 303 and 336 x 336, 0.86x at 128 and 128 x 128; but 1.6x at 128
and 256 x 256 and 3.2x at 64, where moving the tiles costs more than the multiplications saved
(so below MIN_CHANNELS a convolution stays as it is, and Zhang's SIGGRAPH17 leaves its
128-channel full-scale layers out). The 36 products run on oneDNN (ml.onednn): on a
2-core Zen 5 EPYC, whose direct convolutions run at 250 G multiply-adds a second, MKL's
products reached 86 (its AVX2 code on AMD), and Winograd's convolutions only 0.74x the direct
ones at 768 channels and 32 x 44, 0.84x at 512 and 32 x 32, 1.15x at 256 and 64 x 64; with
oneDNN's, 0.47x, 0.61x and 0.92x. The result differs from the direct convolution by float32
rounding (about 1e-5 of the output's range). A dilation of 2 runs as four interleaved
sub-images at dilation 1 (space to batch).

The tiles' transforms run as compiled loops (ml.winograd_kernels: read from the input and
written to the output in place, where PyTorch's pad, unfold, 36 x 36 products and copies took
as long as the 36 products on a Zen 5 EPYC): there, 0.55x the direct convolution at 512
channels and 32 x 32 (0.61x with PyTorch's transforms), 0.62x at 256 and 64 x 64 (0.79x),
0.73x at 303 and 336 x 336 (0.86x). Which convolution runs is measured, not guessed: at the
first call of each shape both run, and the faster is kept (`CHOOSE`).

A network opts in by naming the submodules whose convolutions may take this path (its class's
`winograd_modules`); ml.inference installs them on its float32 `fast` path (`install`), which
runs such a network eagerly, not traced. Not in bfloat16: the transforms' sums of large and
small terms would lose too much there. The transformed filters hold 4x the memory of the
weights they replace (ECCV16: about 470 MB).
"""

from __future__ import annotations

import functools
import time
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ml import color_fast, layer_forwards, onednn, winograd_kernels

OUT_TILE = 4  # m: a tile's outputs per side
IN_TILE = OUT_TILE + 2  # m + r - 1: a tile's inputs per side
MIN_CHANNELS = 128  # below (input or output channels) the direct convolution won
# Below (the input's height x width) the time saved is small for the memory the transformed
# filters hold (4x the weights), and a network's widest layers are its smallest (512 channels at
# 11 x 11 ran 1.08x the direct convolution on an AVX2 EPYC; all of DeOldify-Stable's would hold
# 2.9 GB). From 16 x 16 it wins: 512 channels at 16 x 16 0.60x (AVX2) and 0.73x (AVX-512), 256
# at 21 x 21 0.64x (AVX2), which brings ResNet-101's 23 blocks at render factor 21 in:
# DeOldify-Stable's network 0.65x exact there against 0.72x from 32 x 32, its filters 468 MB
# against 162 (Artistic 0.59x against 0.60x).
MIN_PIXELS = 16 * 16
# Above (a layer's transformed filters: 4x its weight's bytes) a convolution stays direct:
# DeOldify-Stable's middle convolutions (2048 <-> 4096 channels at 1/32 scale) would hold 1.15 GB
# each, 2.3 of the 2.8 GB its filters took at render factor 35. Without them its fast path there
# peaked at 4.8 GB rather than 6.4-6.6 and ran 6 % slower (0.49x exact; 2-core Zen 4 EPYC).
MAX_FILTER_BYTES = 256 * 2**20
BAND_BYTES = 16 * 2**20  # the transformed tiles of a band: within the last-level cache (32 MB)
# Whether a convolution runs by Winograd's algorithm where it suits: where it ran faster than
# the direct convolution on its shape (MEASURED: once per shape and thread count in a process,
# at its first call, as cuDNN's benchmark mode chooses), or ALWAYS. Which one wins depends on
# the processor more than the thresholds above say: on a 2-core Zen 5 EPYC (AVX-512), against
# oneDNN's direct convolutions, 0.55x at 512 channels and 32 x 32, 0.62x at 256 and 64 x 64,
# 0.74x at 300 and 168 x 168, but 1.10x at 256 and 21 x 21 (DeOldify-Stable's 22 middle
# convolutions at render factor 21), 1.22x at 192 and 128 x 176 (BigColor), 1.39x at 128 and
# 42 x 42, 2.05x at 128 and 70 x 70 (DeOldify's decoder); on AVX2 EPYCs, whose direct
# convolutions are slower, 128 channels at 128 x 128 won (0.86x).
MEASURED, ALWAYS = "measured", "always"
CHOOSE = MEASURED
MEASURED_ROUNDS = 1  # timed runs of each, after one untimed: 3 extra runs of the layer, once
WIN_MARGIN = 0.95  # Winograd's is kept where it takes under this much of the direct time
faster: dict[tuple, bool] = {}  # by (out, in, N, C, H, W, dilation, threads)
clock = time.perf_counter
ATTRIBUTE = "winograd_modules"
FILTERS = "_winograd_filters"  # where an installed network keeps its transformed filters

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
def _transforms() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The filter, input and output transforms of a whole tile as one matrix each (Kronecker
    products: a flattened 6 x 6 tile times B^T (x) B^T is B^T d B, flattened), made in float64."""
    g, b_t, a_t = (torch.tensor(m, dtype=torch.float64) for m in (_G, _B_T, _A_T))
    return torch.kron(g, g).float(), torch.kron(b_t, b_t).float(), torch.kron(a_t, a_t).float()


def filters(weight: torch.Tensor) -> torch.Tensor:
    """The transformed filters G g G^T of an (out, in, 3, 3) weight, as (36, out, in), 36 linear
    layers' weights: one matrix product (0.2 s for ECCV16's 470 MB of them, where a contraction
    over the 3 x 3 axes took 1.2 s, which a worker pays at its first `fast` job)."""
    g_g, _, _ = _transforms()
    out_channels, in_channels = weight.shape[:2]
    flat = weight.detach().float().reshape(out_channels * in_channels, 9)
    return (g_g @ flat.T).view(IN_TILE * IN_TILE, out_channels, in_channels).contiguous()


def packed(transformed: torch.Tensor, rows: int) -> tuple[torch.Tensor, ...] | torch.Tensor:
    """`filters`' result as oneDNN keeps a linear layer's weights (ml.onednn.packed), each of
    the 36 reordered once for products of about `rows` rows (tiles), where oneDNN runs them:
    else as it is."""
    if not onednn.available():
        return transformed
    return tuple(onednn.packed(each, rows) for each in transformed)


def conv3x3(x: torch.Tensor, transformed: Any, bias: torch.Tensor | None) -> torch.Tensor:
    """A 3 x 3 convolution (stride 1, padding 1) of x (N, C, H, W) with `filters`' result, or
    `packed`'s."""
    m = OUT_TILE
    n, _, height, width = x.shape
    out_channels = transformed[0].shape[0]
    rows, cols = -(-height // m), -(-width // m)
    # Channels last: each tile position's channels lie together, rows of the products below.
    nhwc = x.permute(0, 2, 3, 1)
    # A band of tile rows at a time, its transformed tiles within BAND_BYTES: DeOldify's
    # 303-channel convolution at 336 x 336 took 0.64x the direct one's time in bands of 4 rows,
    # 1.15x all at once (300 MB of tiles going to memory and back at every step). Each band
    # is padded on its own and its result goes straight into the output: fewer full-size
    # temporaries, which scatter the C heap.
    band = _band_rows(x.shape, out_channels)
    out = x.new_empty((n, m * rows, m * cols, out_channels)) if band < rows else None
    for first in range(0, rows, band):
        last = min(rows, first + band)
        top, bottom = m * first - 1, m * last + 1  # the input rows the band's tiles cover
        part = nhwc[:, max(top, 0) : min(bottom, height)]
        pads = (0, 0, 1, m * cols + 1 - width, max(-top, 0), max(bottom - height, 0))
        result = _band(F.pad(part, pads), transformed)
        if out is None:
            out = result
        else:
            out[:, m * first : m * last] = result
    if bias is not None:
        out += bias
    return out[:, :height, :width].permute(0, 3, 1, 2)


def compiled_conv3x3(
    x: torch.Tensor, transformed: Any, bias: torch.Tensor | None, dilation: int = 1
) -> torch.Tensor:
    """`conv3x3` (at a dilation of 1, or of 2 on an even size) by ml.winograd_kernels' loops:
    the input read and the output written in place, channels-last, a band's tiles split across
    threads."""
    loops = winograd_kernels.kernels()
    n, channels, height, width = x.shape
    out_channels = transformed[0].shape[0]
    shape, out_shape = (n, height, width, channels), (n, height, width, out_channels)
    flat = x.permute(0, 2, 3, 1).contiguous().view(-1).numpy()
    out = x.new_empty(out_shape)
    bias = bias.detach() if bias is not None else x.new_zeros(out_channels)
    sub = (n * dilation * dilation, channels, height // dilation, width // dilation)
    rows, cols = -(-sub[2] // OUT_TILE), -(-sub[3] // OUT_TILE)
    band = _band_rows(sub, out_channels)
    for top in range(0, rows, band):
        geometry = (dilation, top, min(band, rows - top), cols)
        tiles = winograd_kernels.band_tiles(shape, geometry)
        inputs = x.new_empty((IN_TILE * IN_TILE, tiles, channels))
        _split(tiles, loops.input_tiles, flat, shape, geometry, out=inputs.view(-1).numpy())
        planes = tuple(p.reshape(-1).numpy() for p in _products(inputs, transformed))
        args = (planes, bias.numpy(), out_shape, geometry)
        _split(tiles, loops.output_tiles, *args, out=out.view(-1).numpy())
    return out.permute(0, 3, 1, 2)


def _split(tiles: int, loop: Any, *args: Any, out: Any) -> None:
    """Run a compiled loop over a band's tiles, split across threads."""
    color_fast.run_parts(range(tiles), lambda part: loop(*args, part.start, part.stop, out))


def _products(inputs: torch.Tensor, transformed: Any) -> Any:
    """The 36 products of a band's transformed tiles (36, tiles, in) and filters (36, out, in)
    or `packed`'s: on oneDNN (each filter packed or not), else as one batched product."""
    if not onednn.available():
        return torch.bmm(inputs, transformed.transpose(1, 2))
    return [onednn.linear(i, f, None) for i, f in zip(inputs, transformed, strict=True)]


def _band_rows(shape: Any, out_channels: int) -> int:
    """The rows of tiles in one of conv3x3's bands for an input of `shape` (N, C, H, W)."""
    n, channels, _, width = shape
    row_bytes = n * -(-width // OUT_TILE) * IN_TILE * IN_TILE * max(channels, out_channels) * 4
    return max(1, BAND_BYTES // row_bytes)


def _band_tiles(shape: Any, out_channels: int) -> int:
    """The tiles of a band (at most): the rows of its 36 products."""
    n, _, height, width = shape
    rows = min(-(-height // OUT_TILE), _band_rows(shape, out_channels))
    return n * rows * -(-width // OUT_TILE)


def _band(padded: torch.Tensor, transformed: Any) -> torch.Tensor:
    """The convolution's output (N, 4 rows, 4 cols, out) for a padded band of tile rows in
    channels-last order (N, 4 rows + 2, 4 cols + 2, C)."""
    m, a = OUT_TILE, IN_TILE
    n = padded.shape[0]
    rows, cols = (padded.shape[1] - 2) // m, (padded.shape[2] - 2) // m
    tiles = padded.unfold(1, a, m).unfold(2, a, m)  # (N, rows, cols, C, 6, 6)
    _, b_b, a_a = _transforms()
    spread = tiles.permute(4, 5, 0, 1, 2, 3).reshape(a * a, -1)
    inputs = (b_b @ spread).view(a * a, n * rows * cols, -1)
    products = _products(inputs, transformed)
    if not isinstance(products, torch.Tensor):
        products = torch.stack(products)
    out = (a_a @ products.view(a * a, -1)).view(m, m, n, rows, cols, -1)
    return out.permute(2, 3, 0, 4, 1, 5).reshape(n, m * rows, m * cols, -1)


def _dilated_by_two(x: torch.Tensor, conv: Any) -> torch.Tensor:
    """A convolution at dilation 2 (padding 2) as four at dilation 1 on the even and odd rows
    and columns (H and W even), split and joined in channels-last order (ECCV16's 512 channels
    at 32 x 32: 0.61x the direct convolution, 0.73x split in channels-first order)."""
    n, channels, height, width = x.shape
    h, w = height // 2, width // 2
    nhwc = x.permute(0, 2, 3, 1).reshape(n, h, 2, w, 2, channels)
    split = nhwc.permute(2, 4, 0, 1, 3, 5).reshape(4 * n, h, w, channels)
    out = conv(split.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    out = out.reshape(2, 2, n, h, w, -1).permute(2, 3, 0, 4, 1, 5)
    return out.reshape(n, height, width, -1).permute(0, 3, 1, 2)


class Conv(NamedTuple):
    """What a convolution computes: its weight (out, in, kh, kw), bias and geometry."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    stride: int
    padding: int
    dilation: int
    groups: int


def as_conv(module: nn.Module) -> Conv | None:
    """A module's convolution: a plain nn.Conv2d's (its weight a parameter, no hooks, zero
    padding, the same geometry on both axes), or what a conv-like module says it computes (its
    `as_conv2d()`: DeOldify's spectral-norm convolutions); None for anything else."""
    if type(module) is not nn.Conv2d:
        declared = getattr(module, "as_conv2d", None)
        conv = declared() if callable(declared) else None
        return Conv(*conv) if conv is not None else None
    plain = (
        isinstance(module.weight, nn.Parameter)
        and module.padding_mode == "zeros"
        and not isinstance(module.padding, str)
        and not module._forward_pre_hooks
        and not module._forward_hooks
    )
    square = all(len(set(pair)) == 1 for pair in (module.stride, module.padding, module.dilation))
    if not (plain and square):
        return None
    stride, padding, dilation = module.stride[0], module.padding[0], module.dilation[0]
    return Conv(module.weight, module.bias, stride, padding, dilation, module.groups)


def suits(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether this convolution of x takes the Winograd path (see `_suits`)."""
    conv = as_conv(module)
    return conv is not None and _suits(conv, x)


def _suits(conv: Conv, x: torch.Tensor) -> bool:
    """A 3 x 3 convolution of stride 1, padding equal to a dilation of 1 or 2 (2 on an even
    size), with MIN_CHANNELS channels or more on both sides and filters of MAX_FILTER_BYTES at
    most, of a float32 input of MIN_PIXELS or more on the CPU."""
    out_channels, in_channels, *kernel = conv.weight.shape
    even = x.shape[2] % 2 == 0 == x.shape[3] % 2
    return (
        kernel == [3, 3]
        and conv.stride == 1
        and conv.groups == 1
        and conv.padding == conv.dilation
        and (conv.dilation == 1 or (conv.dilation == 2 and even))
        and min(in_channels, out_channels) >= MIN_CHANNELS
        and filter_bytes(out_channels, in_channels) <= MAX_FILTER_BYTES
        and x.shape[2] * x.shape[3] >= MIN_PIXELS
        and x.dtype == torch.float32
        and x.device.type == "cpu"  # its transforms and oneDNN's products are the CPU's
    )


def filter_bytes(out_channels: int, in_channels: int) -> int:
    """Bytes of a convolution's transformed filters (float32, 6 x 6 per channel pair)."""
    return out_channels * in_channels * IN_TILE * IN_TILE * 4


def _forward(module: nn.Module, conv: Conv, made: dict, x: torch.Tensor) -> Any:
    """The module's forward once installed (`conv`: its geometry, the weight's shape only):
    Winograd's where it suits this input and ran faster than the direct convolution on its
    shape (`faster`), its filters transformed at first use (only those the network uses are
    made; a spectral-norm weight is normalised once, there, not every call)."""
    if not _suits(conv, x):
        return type(module).forward(module, x)
    shape = (*conv.weight.shape[:2], *x.shape, conv.dilation, torch.get_num_threads())
    chosen = faster.get(shape) if CHOOSE == MEASURED else True
    if chosen is None:
        return _measure(module, conv, made, x, shape)
    if not chosen:
        return type(module).forward(module, x)
    return _winograd(module, conv, made, x)


def _winograd(module: nn.Module, conv: Conv, made: dict, x: torch.Tensor) -> torch.Tensor:
    if module not in made:
        with torch.no_grad():
            n, channels, height, width = x.shape
            shape = x.shape if conv.dilation == 1 else (4 * n, channels, height // 2, width // 2)
            tiles = _band_tiles(shape, conv.weight.shape[0])
            made[module] = packed(filters(as_conv(module).weight), tiles)
    if winograd_kernels.available():
        return compiled_conv3x3(x, made[module], conv.bias, conv.dilation)
    run = functools.partial(conv3x3, transformed=made[module], bias=conv.bias)
    return run(x) if conv.dilation == 1 else _dilated_by_two(x, run)


def _measure(module: nn.Module, conv: Conv, made: dict, x: torch.Tensor, shape: tuple) -> Any:
    """Both convolutions of x, each run once untimed (oneDNN makes its direct convolution's
    primitive, Winograd's filters are transformed) then timed, alternately; whether Winograd's
    won is kept in `faster` for this shape, its filters dropped if it lost. Returns the chosen
    one's result."""
    runs = {
        False: lambda: type(module).forward(module, x),
        True: lambda: _winograd(module, conv, made, x),
    }
    times: dict[bool, list[float]] = {False: [], True: []}
    results = {}
    for _ in range(1 + MEASURED_ROUNDS):
        for by_winograd, run in runs.items():
            started = clock()
            results[by_winograd] = run()
            times[by_winograd].append(clock() - started)
    best = {by_winograd: min(spent[1:]) for by_winograd, spent in times.items()}
    faster[shape] = chosen = best[True] < WIN_MARGIN * best[False]
    if not chosen:
        made.pop(module, None)
    return results[chosen]


def opted_in(module: nn.Module) -> list[tuple[nn.Module, Conv]]:
    """The opted-in 3 x 3 convolutions, each with its geometry (the weight's shape only, as a
    meta tensor: no copy of a normalised weight is kept)."""
    convs = [(m, as_conv(m)) for m in layer_forwards.opted_in(module, ATTRIBUTE)]
    return [
        (m, conv._replace(weight=conv.weight.detach().to("meta")))
        for m, conv in convs
        if conv is not None and conv.weight.shape[2:] == (3, 3)
    ]


def install(module: nn.Module) -> None:
    """From now on (until `remove`), the network's opted-in convolutions run by Winograd's
    algorithm where they suit their input, each one's filters transformed at its first such
    call and kept (`held_bytes`)."""
    layer_forwards.install(
        module, FILTERS, _forward, lambda: [(m, (c,)) for m, c in opted_in(module)]
    )


def remove(module: nn.Module) -> None:
    """The opted-in convolutions run as before, their transformed filters let go."""
    layer_forwards.remove(module, FILTERS, _forward, layer_forwards.opted_in(module, ATTRIBUTE))


def held_bytes(module: nn.Module) -> int:
    """Bytes of the transformed filters the installed convolutions hold."""
    return layer_forwards.tensor_bytes(module, FILTERS)


def installed(module: nn.Module) -> Any:
    """`install` for a with-block, then `remove`."""
    return layer_forwards.installed(install, remove, module)
