"""ONNX Runtime as `fast`'s float32 engine (ml.ort_engine): within the tolerance of `exact` for
the models that use it (random official-layout weights, generated photos), the PyTorch path
where the package is missing or the export fails, and `exact` untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ml
from ml import inference, ort_engine, winograd
from ml.metrics import delta_e00_map
from tests.conftest import make_photo
from tests.ml.test_inference import (
    MAX_LIMIT,
    MEAN_LIMIT,
    WINOGRAD_LABEL,
    _assert_within_tolerance,
    _both,
)

pytestmark = pytest.mark.skipif(not ort_engine.available(), reason="onnxruntime not installed")

ORT_LABEL = "fast (float32, onnxruntime)"
TORCH_LABEL = "fast (float32, channels-last, jit-frozen)"


@pytest.fixture
def onnxruntime_fast():
    ml.configure(bf16="off", fast_engine="onnxruntime")


def test_eccv16_onnxruntime_within_tolerance(onnxruntime_fast):
    _assert_within_tolerance("zhang-eccv16", temperature=0.38)
    _, fast = _both("zhang-eccv16", make_photo(96, 64, seed=8))
    assert fast.info["coloria"]["inference"] == ORT_LABEL


def test_coloria_lite_onnxruntime_within_tolerance(onnxruntime_fast, tmp_path):
    from ml.models.coloria_lite import random_weights

    torch.manual_seed(6)
    random_weights(ml.get_spec("coloria-lite"), tmp_path)
    ml.configure(weights_dir=tmp_path)
    _assert_within_tolerance("coloria-lite", strength=0.5)
    _, fast = _both("coloria-lite", make_photo(96, 64, seed=8), strength=0.5)
    assert fast.info["coloria"]["inference"] == ORT_LABEL


def _coloria_lite_on_onnxruntime() -> tuple[torch.nn.Module, inference.Runner]:
    """A random Coloria-Lite and its runner, switched to `fast` in float32 on ONNX Runtime."""
    from ml.models.coloria_lite import ColoriaLite

    net = ColoriaLite().eval()
    runner = inference.prepare(net, "cpu", method="logits")
    runner.switch(inference.FAST, lower=False, engine=inference.ORT)
    return net, runner


def _calls_counted(monkeypatch, owner: object, name: str) -> list:
    """A list that grows by one at each call of owner.name (which still runs)."""
    calls: list = []
    real = getattr(owner, name)
    monkeypatch.setattr(owner, name, lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_coloria_lite_is_exported_once_for_every_working_size(onnxruntime_fast, monkeypatch):
    """Photos of other aspect ratios reuse the one export (each size checked once against the
    eager network), with outputs as close to `exact` as at the first size."""
    net, runner = _coloria_lite_on_onnxruntime()
    exports = _calls_counted(monkeypatch, torch.onnx, "export")
    torch.manual_seed(3)
    for height, width in ((64, 96), (96, 64), (64, 64), (64, 96)):
        gray = torch.rand(1, 1, height, width)
        with torch.no_grad():
            want = net.logits(gray)
        got = runner(gray)
        assert got.shape == want.shape == (1, 313, height // 4, width // 4)
        assert torch.allclose(got, want, atol=1e-4)
    assert len(exports) == 1
    assert runner.label == ORT_LABEL


def test_each_call_runs_the_graph_once_even_where_it_is_checked(onnxruntime_fast, monkeypatch):
    """The check of a new size (and of the export itself) computes the graph's outputs: they
    answer that call, rather than the graph running a second time."""
    net, runner = _coloria_lite_on_onnxruntime()
    runs = _calls_counted(monkeypatch, ort_engine.Session, "__call__")
    torch.manual_seed(4)
    for height, width in ((64, 96), (64, 96), (96, 64), (96, 64)):  # export, reuse, check, reuse
        gray = torch.rand(1, 1, height, width)
        before = len(runs)
        got = runner(gray)
        assert len(runs) == before + 1
        with torch.no_grad():
            assert torch.allclose(got, net.logits(gray), atol=1e-4)
    assert runner.label == ORT_LABEL


def test_the_heap_is_trimmed_after_an_export_or_a_check_not_after_every_call(
    onnxruntime_fast, monkeypatch
):
    """An export or a check runs the eager network, whose memory is handed back; a call at a
    size already checked leaves the C heap's free blocks to the stages around the network."""
    _, runner = _coloria_lite_on_onnxruntime()
    trims = _calls_counted(monkeypatch, inference, "trim_heap")
    torch.manual_seed(4)
    counts = []
    for height, width in ((64, 96), (64, 96), (96, 64), (96, 64), (64, 96)):
        runner(torch.rand(1, 1, height, width))
        counts.append(len(trims))
    assert counts == [1, 1, 2, 2, 2]  # export, reuse, check, reuse, reuse
    assert runner.label == ORT_LABEL


def test_a_size_where_the_graph_does_not_hold_falls_back_to_pytorch(onnxruntime_fast, caplog):
    """A network that claims one export for every size but pads by its input's size: the
    exported graph is wrong at the next size, the check sees it, PyTorch runs it instead."""

    class SizedPadding(torch.nn.Module):
        export_size_multiple = 8

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.pad(x, (0, 64 - int(x.shape[-1]))) * 2.0

    runner = inference.prepare(SizedPadding().eval(), "cpu")
    runner.switch(inference.FAST, lower=False, engine=inference.ORT)
    first = torch.rand(1, 1, 8, 32)
    assert torch.equal(runner(first), SizedPadding()(first))
    assert runner.label == ORT_LABEL
    second = torch.rand(1, 1, 8, 48)
    assert torch.equal(runner(second), SizedPadding()(second))
    assert runner.label == TORCH_LABEL
    assert "(1, 1, 8, 48)" in caplog.text


def test_falls_back_to_pytorch_without_the_package(onnxruntime_fast, monkeypatch):
    monkeypatch.setattr(ort_engine, "available", lambda: False)
    _, fast = _both("zhang-eccv16", make_photo(96, 64, seed=8))
    assert fast.info["coloria"]["inference"] == WINOGRAD_LABEL  # ECCV16: Winograd, eager


def test_falls_back_to_pytorch_when_the_export_fails(onnxruntime_fast, monkeypatch, caplog):
    def failing_export(*args, **kwargs):
        raise RuntimeError("an operator the exporter does not know")

    monkeypatch.setattr(torch.onnx, "export", failing_export)
    _, fast = _both("zhang-eccv16", make_photo(96, 64, seed=8))
    assert fast.info["coloria"]["inference"] == WINOGRAD_LABEL
    assert "an operator the exporter does not know" in caplog.text


def test_exact_stays_the_eager_network_with_the_engine_declared():
    from ml.models.zhang import ECCV16

    torch.manual_seed(7)
    net = ECCV16(width=0.25).eval()
    lightness = torch.rand(1, 1, 64, 64) * 100
    with torch.inference_mode():
        eager = net.logits(lightness)
    runner = inference.prepare(net, "cpu", method="logits")
    runner.switch("fast", lower=False, engine=inference.ORT)  # ORT is the float32 engine
    fast = runner(lightness)
    assert runner.label == ORT_LABEL and fast.shape == eager.shape
    assert torch.allclose(fast, eager, rtol=1e-4, atol=1e-4)
    runner.switch("exact", engine=inference.ORT)
    with torch.inference_mode():
        assert torch.equal(runner(lightness), eager)
    assert runner.label == inference.EXACT_LABEL


def test_engine_per_model_setting_and_default(monkeypatch):
    from ml import config

    ml.configure(fast_engine="auto")
    for key in inference.ONNXRUNTIME_BY_DEFAULT:
        assert inference.engine_for(key) == inference.ORT
    assert inference.engine_for("cnn-coloria") == inference.TORCH
    ml.configure(fast_engine="torch")
    assert inference.engine_for("zhang-eccv16-coloria") == inference.TORCH
    monkeypatch.setenv("COLORIA_FAST_ENGINE", "onnxruntime")
    assert config._from_environment().fast_engine == "onnxruntime"
    with pytest.raises(ValueError):
        ml.configure(fast_engine="tensorrt")


def test_a_sessions_arena_counts_in_the_models_size(onnxruntime_fast):
    from ml import runtime

    # 64 channels at 512 x 512 between the layers: a 64 MB activation in ONNX Runtime's arena,
    # which keeps it after the run, where PyTorch's eager path hands it back.
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 64, 3, padding=1), torch.nn.Conv2d(64, 2, 1))
    runner = inference.prepare(net.eval(), "cpu")
    weights = runtime.measure(runner)
    assert weights == runtime.measure(net) and runner.held_bytes() == 0
    runner.switch(inference.FAST, lower=False, engine=inference.ORT)
    runner(torch.rand(1, 1, 512, 512))
    assert runner.label == ORT_LABEL
    assert runner.held_bytes() >= 32 * 2**20
    assert runtime.measure(runner) == weights + runner.held_bytes()
    runner.switch(inference.EXACT)  # the sessions are dropped, and what they held with them
    assert runner.held_bytes() == 0


def test_ddcolor_onnxruntime_within_tolerance_with_one_export_for_every_size(
    onnxruntime_fast, ddcolor_model, monkeypatch
):
    exports = _calls_counted(monkeypatch, ort_engine, "session")
    _assert_within_tolerance(ddcolor_model, input_size=256)
    assert len(exports) == 1
    # The input size is the user's to choose (256-1024): the loaded graph serves a new one after
    # a check against the eager network (which would fall back to PyTorch where it differs),
    # its weights held once, where an export per size would hold a copy each.
    fast = ml.colorize(make_photo(96, 64, seed=8), model=ddcolor_model, input_size=320)
    assert fast.info["coloria"]["inference"] == ORT_LABEL
    assert len(exports) == 1


def test_ddcolor_inputs_beyond_the_official_size_take_pytorchs_path(
    onnxruntime_fast, ddcolor_model, monkeypatch
):
    # ONNX Runtime's arena would keep a 1024 x 1024 input's activations (7 GB for DDColor-T)
    # for as long as the model stays loaded: larger inputs run PyTorch's path instead (eager).
    exports = _calls_counted(monkeypatch, ort_engine, "session")
    photo = make_photo(96, 64, seed=8)
    ml.configure(inference="fast")
    # The larger size first: its eager run installs int8, oneDNN and Winograd layers, which
    # the export must not trace.
    sides = (576, 512, 576, 512)
    results = [ml.colorize(photo, model=ddcolor_model, input_size=side) for side in sides]
    paths = [result.info["coloria"]["inference"] for result in results]
    eager = "fast (float32, channels-last, winograd, onednn, int8)"
    assert paths == [eager, ORT_LABEL, eager, ORT_LABEL]
    assert len(exports) == 1
    ml.configure(inference="exact")
    exact = ml.colorize(photo, model=ddcolor_model, input_size=576)
    differences = delta_e00_map(np.asarray(results[2]), np.asarray(exact))
    assert differences.mean() <= MEAN_LIMIT and differences.max() <= MAX_LIMIT


def test_bigcolor_onnxruntime_within_tolerance_with_one_export_for_every_aspect(
    onnxruntime_fast, bigcolor_model, monkeypatch
):
    # BigColor's inputs are the photo at its working size (its aspect ratio, sides multiples of
    # 16), a class and a latent vector: one export with free image sizes serves every photo,
    # the class and latent keeping their shapes.
    exports = _calls_counted(monkeypatch, ort_engine, "session")
    _assert_within_tolerance(bigcolor_model, imagenet_class=979)
    for width, height in ((64, 96), (96, 64)):  # portrait, then landscape
        fast = ml.colorize(
            make_photo(width, height, seed=8), model=bigcolor_model, imagenet_class=979
        )
        assert fast.info["coloria"]["inference"] == ORT_LABEL
    assert len(exports) == 1


def test_bigcolor_falls_back_to_winograd_eagerly_when_the_export_fails(
    onnxruntime_fast, bigcolor_model, monkeypatch, caplog
):
    # Without ONNX Runtime BigColor runs eagerly, its wide 3 x 3 convolutions by Winograd's
    # algorithm (its frozen trace ran no faster than exact, and a frozen trace's weights outlive
    # it: pytorch#96726), within the tolerance.
    def failing_export(*args, **kwargs):
        raise RuntimeError("an operator the exporter does not know")

    monkeypatch.setattr(torch.onnx, "export", failing_export)
    monkeypatch.setattr(winograd, "MIN_CHANNELS", 8)  # the tiny test network's widths
    monkeypatch.setattr(winograd, "CHOOSE", winograd.ALWAYS)  # not only where it runs faster
    traces = _calls_counted(monkeypatch, torch.jit, "trace")
    tiles = _calls_counted(monkeypatch, winograd, "_winograd")
    _assert_within_tolerance(bigcolor_model, imagenet_class=979)
    fast = ml.colorize(make_photo(96, 64, seed=8), model=bigcolor_model, imagenet_class=979)
    assert fast.info["coloria"]["inference"] == WINOGRAD_LABEL
    assert "an operator the exporter does not know" in caplog.text
    assert tiles and not traces
