"""Winograd's 3 x 3 convolutions (ml.winograd) on `fast`'s float32 path: the same results as
the direct convolution within float32 rounding, only where they suit, and only in `fast`."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ml import color_fast, inference, onednn, winograd, winograd_kernels

# Relative to the output's range: Winograd's transforms add and subtract terms up to 8x a tile's
# values, so its rounding differs from the direct convolution's by about 1e-5 of the range.
RELATIVE = 1e-4


def _close(result: torch.Tensor, expected: torch.Tensor) -> bool:
    scale = expected.abs().max().item()
    return (result - expected).abs().max().item() <= RELATIVE * scale


@pytest.fixture(autouse=True)
def winograd_wherever_it_suits(monkeypatch):
    """Winograd's convolutions wherever they suit, not only where they ran faster (as
    `fast` chooses: tested below), with no choice kept from another test."""
    monkeypatch.setattr(winograd, "CHOOSE", winograd.ALWAYS)
    monkeypatch.setattr(winograd, "faster", {})


@pytest.fixture(params=["compiled", "torch"])
def transforms(request, monkeypatch):
    """The tiles' transforms by ml.winograd_kernels' compiled loops (Numba is a requirement), or
    by PyTorch's operations, as where Numba is not installed."""
    assert winograd_kernels.available()
    if request.param == "torch":
        monkeypatch.setattr(winograd_kernels, "available", lambda: False)
    return request.param


class Convs(nn.Module):
    """Convolutions that suit the Winograd path and one that does not (stride 2)."""

    winograd_modules = ("body",)

    def __init__(self, dilation: int = 1, bias: bool = True) -> None:
        super().__init__()
        pad = dilation
        self.body = nn.Sequential(
            nn.Conv2d(128, 160, 3, padding=pad, dilation=dilation, bias=bias),
            nn.ReLU(),
            nn.Conv2d(160, 128, 3, padding=pad, dilation=dilation, bias=bias),
            nn.Conv2d(128, 128, 3, stride=2, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


@pytest.mark.parametrize(
    ("dilation", "bias", "size", "batch"),
    [(1, True, (33, 38), 1), (1, False, (32, 32), 2), (2, True, (34, 38), 1)],
    ids=["odd-size", "no-bias-batch-2", "dilation-2"],
)
def test_the_winograd_convolutions_give_the_direct_result(transforms, dilation, bias, size, batch):
    torch.manual_seed(0)
    net = Convs(dilation, bias).eval()
    x = torch.randn(batch, 128, *size)
    with torch.no_grad():
        expected = net(x)
        for layout in (torch.contiguous_format, torch.channels_last):
            with winograd.installed(net):
                result = net(x.contiguous(memory_format=layout))
            assert result.shape == expected.shape
            assert _close(result, expected), layout
            assert not torch.equal(result, expected)  # another algorithm ran, not oneDNN's


def test_only_plain_3x3_convolutions_of_enough_channels_suit():
    x, odd = torch.zeros(1, 128, 32, 32), torch.zeros(1, 128, 33, 32)
    plain = nn.Conv2d(128, 128, 3, padding=1)
    assert winograd.suits(plain, x)
    assert not winograd.suits(plain, torch.zeros(1, 128, 15, 16))  # too small to gain much
    assert winograd.suits(plain, torch.zeros(1, 128, 16, 16))
    assert not winograd.suits(plain, x.bfloat16())  # low precision keeps oneDNN's
    assert not winograd.suits(plain, x.to("meta"))  # another device than the CPU (CUDA)
    assert not winograd.suits(nn.Conv2d(128, 128, 3, stride=2, padding=1), x)
    assert not winograd.suits(nn.Conv2d(128, 128, 1), x)
    assert not winograd.suits(nn.Conv2d(128, 128, 3), x)  # no padding: a smaller output
    assert not winograd.suits(nn.Conv2d(128, 128, 3, padding=1, groups=2), x)
    assert not winograd.suits(nn.Conv2d(128, 64, 3, padding=1), x)  # too few channels
    assert not winograd.suits(nn.Conv2d(128, 128, 3, padding=1, padding_mode="reflect"), x)
    dilated = nn.Conv2d(128, 128, 3, padding=2, dilation=2)
    assert winograd.suits(dilated, x) and not winograd.suits(dilated, odd)
    assert not winograd.suits(nn.utils.spectral_norm(nn.Conv2d(128, 128, 3, padding=1)), x)


def test_a_convolution_whose_filters_would_hold_too_much_stays_direct(monkeypatch):
    # DeOldify-Stable's middle convolutions (2048 <-> 4096 channels) would hold 1.15 GB each.
    assert winograd.filter_bytes(4096, 2048) > winograd.MAX_FILTER_BYTES
    assert winograd.filter_bytes(768, 768) <= winograd.MAX_FILTER_BYTES  # BigColor's widest
    x = torch.zeros(1, 128, 32, 32)
    wider, narrower = nn.Conv2d(128, 160, 3, padding=1), nn.Conv2d(128, 128, 3, padding=1)
    monkeypatch.setattr(winograd, "MAX_FILTER_BYTES", winograd.filter_bytes(128, 128))
    assert winograd.suits(narrower, x) and not winograd.suits(wider, x)
    assert winograd.filter_bytes(128, 128) == 128 * 128 * 36 * 4


def test_the_convolutions_are_as_before_after_the_block():
    torch.manual_seed(1)
    net = Convs().eval()
    x = torch.randn(1, 128, 32, 32)
    with torch.no_grad():
        before = net(x)
        with winograd.installed(net):
            pass
        assert torch.equal(net(x), before)
        assert all("forward" not in vars(conv) for conv, _ in winograd.opted_in(net))


def _runs_winograd(runner: inference.Runner) -> bool:
    """Whether the runner's network ran by Winograd's convolutions (and holds their filters)."""
    return winograd.held_bytes(runner.module) > 0 and runner.held_bytes() > 0


def test_the_float32_fast_path_runs_winograd_eagerly_where_the_network_opts_in(monkeypatch):
    from ml.models.zhang import ECCV16

    torch.manual_seed(2)
    net = ECCV16(width=0.25).eval()  # 128 channels in model4-7, at 32 x 32
    x = torch.rand(1, 1, 256, 256) * 100
    runner = inference.prepare(net, "cpu", method="logits")
    with torch.inference_mode():
        exact = runner(x)
        runner.switch(inference.FAST, lower=False, engine=inference.TORCH)
        fast = runner(x)
    assert _runs_winograd(runner) and not runner._traces  # eager: no trace to leak
    assert runner.label == "fast (float32, channels-last, winograd)"
    assert _close(fast, exact)

    runner.switch(inference.EXACT)  # exact again: the direct convolutions, bit for bit
    with torch.inference_mode():
        assert torch.equal(runner(x), exact)
    assert winograd.held_bytes(net) == 0

    # In bfloat16 (emulated where the processor lacks it) the trace keeps oneDNN's convolutions.
    monkeypatch.setattr(inference, "_cpu_has_bf16", lambda: True)
    runner.switch(inference.FAST, lower=True, engine=inference.TORCH)
    with torch.inference_mode():
        runner(x)
    assert not _runs_winograd(runner) and len(runner._traces) == 1
    assert "winograd" not in runner.label


class NotOptedIn(Convs):
    winograd_modules = ()


def test_a_network_without_winograd_modules_traces_as_before():
    runner = inference.prepare(NotOptedIn().eval(), "cpu")
    runner.switch(inference.FAST, lower=False, engine=inference.TORCH)
    with torch.inference_mode():
        runner(torch.randn(1, 128, 32, 32))
    assert not _runs_winograd(runner) and len(runner._traces) == 1
    assert runner.label == "fast (float32, channels-last, jit-frozen)"


def _deoldify_spectral_norm_conv(kernel: int = 3, dims: int = 2) -> nn.Module:
    from ml.models.deoldify import SpectralNormConv

    return SpectralNormConv(128, 128, kernel, bias=True, dims=dims)


def _biggan_spectral_norm_conv(kernel: int = 3, dims: int = 2) -> nn.Module:
    from ml.models.bigcolor import SNConv2d

    return SNConv2d(128, 128, kernel) if dims == 2 else nn.Conv1d(128, 128, kernel)


@pytest.mark.parametrize("make", [_deoldify_spectral_norm_conv, _biggan_spectral_norm_conv])
def test_a_spectral_norm_convolution_runs_by_winograd_with_its_normalised_weight(make):
    torch.manual_seed(3)
    conv = make().eval()
    x = torch.randn(1, 128, 32, 40)
    assert winograd.suits(conv, x)
    assert not winograd.suits(make(dims=1).eval(), x)
    assert not winograd.suits(make(kernel=1).eval(), x)
    assert not winograd.suits(make().train(), x)

    class Wrapped(nn.Module):
        winograd_modules = ("conv",)

        def __init__(self) -> None:
            super().__init__()
            self.conv = conv

    with torch.no_grad():
        expected = conv(x)
        with winograd.installed(Wrapped()):
            result = conv(x)
    assert _close(result, expected) and not torch.equal(result, expected)


def test_bands_of_tile_rows_give_the_result_of_one_pass(transforms, monkeypatch):
    torch.manual_seed(4)
    net = Convs().eval()
    x = torch.randn(1, 128, 45, 33)
    bands = []
    products = winograd._products
    monkeypatch.setattr(winograd, "_products", lambda *args: bands.append(1) or products(*args))
    with torch.no_grad():
        direct = net(x)
        with winograd.installed(net):
            whole = net(x)
            assert len(bands) == 2  # one for each of the two Winograd convolutions
            monkeypatch.setattr(winograd, "BAND_BYTES", 1)  # a band for each row of tiles
            banded = net(x)
    assert len(bands) == 2 + 2 * 12  # 45 rows: 12 rows of 4 x 4 tiles
    assert _close(banded, direct) and _close(whole, direct)


def test_a_second_install_does_not_list_the_layers_again():
    # A runner installs before every call: listing the opted-in layers normalises each
    # spectral-norm weight (BigColor's unused 1536-channel blocks too), which cost about 50 ms
    # a call before the listing was skipped once installed.
    torch.manual_seed(5)
    conv = _biggan_spectral_norm_conv().eval()
    normalised = []
    original = type(conv).normalised_weight
    conv.normalised_weight = lambda: normalised.append(1) or original(conv)

    class Wrapped(nn.Module):
        winograd_modules = ("conv",)

        def __init__(self) -> None:
            super().__init__()
            self.conv = conv

    net = Wrapped()
    winograd.install(net)
    listed = len(normalised)
    winograd.install(net)
    winograd.install(net)
    assert listed == 1 and len(normalised) == listed
    winograd.remove(net)


def test_the_products_run_on_onednn_and_fall_back_to_bmm(monkeypatch):
    # oneDNN's matrix product where PyTorch has it (MKL's, which torch.bmm calls, runs its AVX2
    # code on AMD processors: half the speed); torch.bmm elsewhere, with the same result.
    torch.manual_seed(6)
    x = torch.randn(1, 128, 20, 28).contiguous(memory_format=torch.channels_last)
    weight, bias = torch.randn(160, 128, 3, 3) * 0.05, torch.randn(160)
    transformed = winograd.filters(weight)
    assert transformed.shape == (36, 160, 128)
    products = []
    linear = onednn.product()
    if torch.backends.mkldnn.is_available():
        assert linear is not None
        monkeypatch.setattr(
            onednn, "product", lambda: lambda *args: products.append(1) or linear(*args)
        )
    with torch.no_grad():
        direct = F.conv2d(x, weight, bias, padding=1)
        on_onednn = winograd.conv3x3(x, transformed, bias)
        # The filters packed once as oneDNN reads them (where it runs them): the same bits.
        packed = winograd.packed(transformed, rows=35)
        assert torch.equal(winograd.conv3x3(x, packed, bias), on_onednn)
        monkeypatch.setattr(onednn, "product", lambda: None)
        bmm = winograd.conv3x3(x, transformed, bias)
    assert len(products) == 2 * 36 * (1 if linear is not None else 0)  # a band of 36, twice
    assert _close(on_onednn, direct) and _close(bmm, direct)


@pytest.mark.parametrize("dilation", [1, 2])
def test_the_compiled_transforms_give_pytorchs_result_at_any_size_and_split(dilation, monkeypatch):
    # Borders on every side (sizes not a multiple of 4, down to one tile's worth and less), a
    # batch, channel counts that are no multiple of the vector width, bands of one tile row,
    # and the band's tiles split across 1-3 threads: each tile is computed alone, so any split
    # gives the same bits.
    torch.manual_seed(7)
    for n, in_channels, out_channels, height, width in [
        (2, 131, 129, 2, 6), (1, 128, 200, 9, 14), (3, 140, 128, 26, 18)
    ]:  # fmt: skip
        height += height % dilation  # a dilation of 2 takes this path on even sizes only
        x = torch.randn(n, in_channels, height, width).contiguous(memory_format=torch.channels_last)
        weight = torch.randn(out_channels, in_channels, 3, 3) / (9 * in_channels) ** 0.5
        bias = torch.randn(out_channels)
        transformed = winograd.filters(weight)
        direct = F.conv2d(x, weight, bias, padding=dilation, dilation=dilation)
        run = functools.partial(winograd.conv3x3, transformed=transformed, bias=bias)
        by_torch = run(x) if dilation == 1 else winograd._dilated_by_two(x, run)
        results = []
        with monkeypatch.context() as patch:
            for threads in (1, 2, 3):
                patch.setattr(color_fast, "threads", lambda threads=threads: threads)
                results.append(winograd.compiled_conv3x3(x, transformed, bias, dilation))
            patch.setattr(winograd, "BAND_BYTES", 1)
            results.append(winograd.compiled_conv3x3(x, transformed, bias, dilation))
        assert results[0].is_contiguous(memory_format=torch.channels_last)
        assert all(torch.equal(result, results[0]) for result in results[1:])
        assert _close(results[0], direct) and _close(by_torch, direct)
        assert _close(results[0], by_torch) and not torch.equal(results[0], by_torch)


def test_the_compiled_transforms_compile_where_numba_cannot_keep_them(
    monkeypatch, numba_refusing_its_cache
):
    """Without a writable place for Numba's cache the loops are compiled in each process, and
    still convolve."""
    loops = winograd_kernels.kernels.__wrapped__()
    monkeypatch.setattr(winograd_kernels, "kernels", lambda: loops)
    torch.manual_seed(8)
    x = torch.randn(1, 128, 8, 8).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(128, 128, 3, 3) * 0.03
    result = winograd.compiled_conv3x3(x, winograd.filters(weight), None)
    assert _close(result, F.conv2d(x, weight, None, padding=1))
    assert all(loop.signatures for loop in loops)  # compiled, and ran


def _timed(monkeypatch, durations: list[float]) -> list[float]:
    """winograd's clock, made to time its measured runs (untimed and timed, alternately direct
    and Winograd's) as `durations` say; returns what is left of them."""
    ticks = [0.0]
    for duration in durations:
        ticks += [ticks[-1], ticks[-1] + duration]
    left = ticks[1:]
    monkeypatch.setattr(winograd, "clock", lambda: left.pop(0))
    return left


@pytest.mark.parametrize("winograd_faster", [True, False])
def test_each_shape_runs_the_convolution_that_ran_faster(winograd_faster, monkeypatch):
    # At a shape's first call both run, once untimed and once timed each; the faster is kept
    # for that shape (threads included), and runs from then on without measuring again.
    monkeypatch.setattr(winograd, "CHOOSE", winograd.MEASURED)
    torch.manual_seed(9)
    net = Convs().eval()
    x = torch.randn(1, 128, 24, 20)
    timed = (9.0, 5.0) if winograd_faster else (9.0, 9.5)  # direct, Winograd: 0.95x wins
    left = _timed(monkeypatch, [1.0, 1.0, *timed] * 2)  # the two convolutions that suit
    with torch.no_grad():
        direct = net(x)
        with winograd.installed(net):
            measured = net(x)
            assert not left  # each of the two measured once, the stride-2 one not at all
            assert len(winograd.faster) == 2
            assert set(winograd.faster.values()) == {winograd_faster}
            again = net(x)  # no measuring: the clock has no time left to give
            assert (winograd.held_bytes(net) > 0) == winograd_faster  # a loser's filters go
    assert torch.equal(measured, again)
    if winograd_faster:
        assert _close(measured, direct) and not torch.equal(measured, direct)
    else:
        assert torch.equal(measured, direct)
    (shape,) = [key for key in winograd.faster if key[:2] == (160, 128)]
    assert shape == (160, 128, 1, 128, 24, 20, 1, torch.get_num_threads())


def test_the_measured_choice_runs_on_the_real_clock(monkeypatch):
    monkeypatch.setattr(winograd, "CHOOSE", winograd.MEASURED)
    torch.manual_seed(10)
    net = Convs(dilation=2).eval()
    x = torch.randn(1, 128, 32, 32).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        direct = net(x)
        with winograd.installed(net):
            result = net(x)
    assert len(winograd.faster) == 2 and _close(result, direct)
