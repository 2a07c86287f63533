"""The `fast` inference path (ml.inference): within the tolerance of `exact` for every family
(random official-layout weights, generated photos), `exact` bit for bit the eager network, the
float32 fallback where bfloat16 is off, and warm workers loading their models once."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ml
from ml import inference, runtime, winograd
from ml.metrics import delta_e00_map
from tests.conftest import SHIPPED_WEIGHTS_DIR, make_photo

# The tolerance `fast` must hold against `exact` (issue #23): CIEDE2000 per pixel.
MEAN_LIMIT, MAX_LIMIT = 0.5, 3.0
WINOGRAD_LABEL = "fast (float32, channels-last, winograd)"


def _both(model: str, photo, **params) -> tuple:
    """The model's result in `exact` and in `fast`, each from a freshly loaded predictor."""
    results = []
    for mode in ("exact", "fast"):
        ml.configure(inference=mode)
        runtime.unload_all()
        results.append(ml.colorize(photo, model=model, **params))
    return tuple(results)


def _assert_within_tolerance(model: str, photo=None, **params) -> str:
    """Asserts it, and returns the path `fast` took."""
    photo = photo if photo is not None else make_photo(160, 120, seed=5)
    exact, fast = _both(model, photo, **params)
    assert "inference" not in exact.info["coloria"]
    assert fast.info["coloria"]["inference"].startswith("fast (")
    differences = delta_e00_map(np.asarray(fast), np.asarray(exact))
    assert differences.mean() <= MEAN_LIMIT, (model, differences.mean())
    assert differences.max() <= MAX_LIMIT, (model, differences.max())
    return fast.info["coloria"]["inference"]


# Every family's fast path in float32 (channels-last, frozen trace): what COLORIA_BF16=auto runs
# for the models outside ml.inference.LOW_PRECISION_BY_DEFAULT, and =off or a CPU without bfloat16
# for all. In bfloat16 (COLORIA_BF16=on) these random test networks (calibrated to vary
# strongly) leave the tolerance for ECCV16, SIGGRAPH17, DeOldify and BigColor; DDColor and
# Coloria-Lite hold it (tested below in bfloat16 too).
@pytest.fixture(params=[False, True], ids=["float32", "bf16"])
def precision(request, monkeypatch) -> bool:
    if request.param:  # emulated where the processor lacks bfloat16: slower, the same roundings
        monkeypatch.setattr(inference, "_cpu_has_bf16", lambda: True)
    ml.configure(bf16="on" if request.param else "off")
    return request.param


@pytest.fixture
def float32_fast():
    ml.configure(bf16="off")


def test_zhang_eccv16_fast_within_tolerance(float32_fast):
    _assert_within_tolerance("zhang-eccv16", temperature=0.38)


def test_zhang_siggraph17_fast_within_tolerance(float32_fast, hint_model):
    _assert_within_tolerance(hint_model, hints=[(40, 30, (200, 40, 40))])


def test_deoldify_fast_within_tolerance(float32_fast, deoldify_model):
    _assert_within_tolerance(deoldify_model, render_factor=7)


def test_bigcolor_fast_within_tolerance(float32_fast, bigcolor_model):
    _assert_within_tolerance(bigcolor_model, imagenet_class=979)


def test_ddcolor_fast_within_tolerance(precision, ddcolor_model):
    # Its fast forms, and in float32 its encoder's third-stage MLPs in int8 (ml.int8), its
    # other linear layers and attention on oneDNN (ml.onednn) and the pixel decoder's
    # convolutions by Winograd's algorithm (none this small network's: too narrow).
    path = _assert_within_tolerance(ddcolor_model, input_size=256)
    float32 = "float32, channels-last, winograd, onednn, int8"
    expected = "bfloat16, channels-last" if precision else float32
    assert path == f"fast ({expected})"


def test_coloria_lite_fast_within_tolerance(precision, tmp_path):
    from ml.models.coloria_lite import random_weights

    torch.manual_seed(6)
    random_weights(ml.get_spec("coloria-lite"), tmp_path)
    ml.configure(weights_dir=tmp_path)
    _assert_within_tolerance("coloria-lite", strength=0.5)


def test_exact_is_the_eager_network_bit_for_bit():
    """`exact` calls the module itself; switching to `fast` and back changes nothing."""
    from ml.models.zhang import SIGGRAPH17

    torch.manual_seed(7)
    net = SIGGRAPH17().eval()
    inputs = (torch.rand(1, 1, 64, 64) * 100, torch.randn(1, 2, 64, 64), torch.rand(1, 1, 64, 64))
    with torch.inference_mode():
        eager = net(*inputs)
        runner = inference.prepare(net, "cpu")
        assert torch.equal(runner(*inputs), eager)
        runner.switch("fast")
        assert runner(*inputs).shape == eager.shape  # the fast path ran
        runner.switch("exact")
        assert torch.equal(runner(*inputs), eager)
    assert runner.label == inference.EXACT_LABEL


def test_fast_falls_back_to_float32_without_bf16():
    ml.configure(bf16="off")
    assert inference.low_precision("cpu") is None
    _, fast = _both("zhang-eccv16", make_photo(96, 64, seed=8))
    # ECCV16 runs its 3 x 3 convolutions by Winograd's algorithm (ml.winograd), eagerly.
    assert fast.info["coloria"]["inference"] == WINOGRAD_LABEL


def test_bf16_is_used_where_the_processor_has_it():
    ml.configure(bf16="on")
    expected = torch.bfloat16 if inference._cpu_has_bf16() else None
    assert inference.low_precision("cpu") is expected
    assert inference.wants_low_precision("zhang-eccv16")
    ml.configure(bf16="auto")  # only where it held the tolerance
    holds = "zhang-eccv16" in inference.LOW_PRECISION_BY_DEFAULT
    assert inference.wants_low_precision("zhang-eccv16") == holds


def test_traces_are_kept_by_input_shape():
    from ml.models.zhang import ECCV16

    class TracedECCV16(ECCV16):
        winograd_modules = ()  # in float32 ECCV16 runs eagerly (ml.winograd): a traced one here

    net = TracedECCV16(width=0.25).eval()
    runner = inference.prepare(net, "cpu", method="logits")
    runner.switch("fast")
    for side in (64, 96, 64, 128, 160):
        logits = runner(torch.rand(1, 1, side, side) * 100)
        assert logits.shape[-1] == side // 4 and logits.dtype == torch.float32
    assert len(runner._traces) == inference.MAX_TRACES  # the oldest shapes were dropped


def test_mode_per_model_setting_and_default():
    ml.configure(inference="", inference_overrides={"zhang-eccv16": "fast"})
    assert inference.mode_for("zhang-eccv16") == "fast"
    default = "fast" if "deoldify-artistic" in inference.FAST_BY_DEFAULT else "exact"
    assert inference.mode_for("deoldify-artistic") == default
    ml.configure(inference="exact", inference_overrides={})
    assert inference.mode_for("zhang-eccv16") == "exact"
    with pytest.raises(ValueError):
        ml.configure(inference="quick")


def test_mode_settings_from_the_environment(monkeypatch):
    from ml import config

    monkeypatch.setenv("COLORIA_INFERENCE", "exact")
    monkeypatch.setenv("COLORIA_INFERENCE_ZHANG_ECCV16", "fast")
    monkeypatch.setenv("COLORIA_BF16", "0")
    monkeypatch.setenv("COLORIA_WARM_MODELS", "zhang-eccv16, coloria-lite")
    settings = config._from_environment()
    assert settings.inference == "exact"
    assert settings.inference_overrides == {"zhang-eccv16": "fast"}
    assert settings.bf16 == "off"
    assert settings.warm_models == ("zhang-eccv16", "coloria-lite")


def test_warm_loads_each_model_once(monkeypatch, hint_model):
    from ml import color, registry

    real_compose = color.compose

    loads: list[str] = []
    real = registry.load_code

    def counting(path: str):
        loaded = real(path)
        if path.endswith("Predictor"):
            loads.append(path)
        return loaded

    monkeypatch.setattr(runtime, "load_code", counting)
    composed = []  # each result composed too: compose's compiled loops are loaded at start
    monkeypatch.setattr(color, "compose", lambda *args: composed.append(real_compose(*args)))
    ml.configure(warm_models=("zhang-eccv16", "zhang-siggraph17", "zhang-eccv16"), inference="fast")
    monkeypatch.setattr(winograd, "CHOOSE", winograd.ALWAYS)  # where each suits: filters held
    assert runtime.warm() == ["zhang-eccv16", "zhang-siggraph17"]
    assert len(loads) == 2
    assert [image.size for image in composed] == [(256, 192)] * 2
    predictor = runtime.load_predictor(ml.get_spec("zhang-eccv16"))
    # Made at start, so the first job does not make it: ECCV16's fast path runs eagerly, with
    # Winograd's filters transformed on its first call (other networks trace there).
    assert predictor.run.winograd and predictor.run.held_bytes() > 100 * 2**20
    ml.colorize(make_photo(), model="zhang-eccv16")
    runtime.warm()
    assert len(loads) == 2


def test_warm_skips_models_without_weights():
    assert runtime.warm(["deoldify-stable"]) == []


# --- float32 submodules under bfloat16 (a network's `float32_modules`) ---------------------------


@pytest.fixture
def bf16_forced(monkeypatch):
    """bfloat16 autocast in `fast` even where the processor only emulates it (slower, the same
    roundings): what the tolerance and the float32 submodules are checked against."""
    monkeypatch.setattr(inference, "_cpu_has_bf16", lambda: True)
    ml.configure(bf16="on")


def _dtypes_seen(net, names: list[str]) -> dict[str, set]:
    """The output dtypes of the named submodules, recorded by forward hooks while `net` runs (a
    trace runs them once, when it is made)."""
    seen: dict[str, set] = {name: set() for name in names}
    for name in names:
        net.get_submodule(name).register_forward_hook(
            lambda _m, _i, out, name=name: seen[name].add(out.dtype)
        )
    return seen


@pytest.mark.parametrize("jit", [True, False], ids=["traced", "eager"])
def test_declared_float32_modules_run_in_float32_under_bf16(bf16_forced, jit):
    from ml.models.zhang import ECCV16

    torch.manual_seed(9)
    net = ECCV16(width=0.25).eval()
    assert net.float32_modules == ("model1",)
    lightness = torch.rand(1, 1, 64, 64) * 100
    with torch.inference_mode():
        eager = net.logits(lightness)
    seen = _dtypes_seen(net, ["model1", "model2", "model8"])
    runner = inference.prepare(net, "cpu", method="logits", jit=jit)
    runner.switch("fast")
    assert runner.label.startswith("fast (bfloat16")
    fast = runner(lightness)
    assert seen == {"model1": {torch.float32}, "model2": {torch.bfloat16},
                    "model8": {torch.bfloat16}}  # fmt: skip
    assert fast.dtype == torch.float32 and not torch.equal(fast, eager)  # bfloat16 ran
    runner.switch("exact")
    assert "forward" not in vars(net.model1)  # the class's own forward again
    with torch.inference_mode():
        assert torch.equal(runner(lightness), eager)


def test_the_trace_keeps_the_float32_modules_in_float32(bf16_forced):
    """The frozen trace computes what the eager network computes under bfloat16 autocast:
    TorchScript's own autocast pass does not put the float32 submodules back in bfloat16."""
    from ml.models.zhang import ECCV16

    torch.manual_seed(10)
    net = ECCV16(width=0.25).eval()
    lightness = torch.rand(1, 1, 64, 64) * 100
    with torch.inference_mode():
        exact = net.logits(lightness)

    def fast_logits(jit: bool) -> torch.Tensor:
        runner = inference.prepare(net, "cpu", method="logits", jit=jit)
        runner.switch("fast")
        return runner(lightness)

    traced, eager = fast_logits(True), fast_logits(False)
    net.float32_modules = ()  # every layer in bfloat16
    all_bf16 = fast_logits(True)
    torch.testing.assert_close(traced, eager, rtol=0, atol=1e-6)
    assert not torch.equal(traced, all_bf16) and not torch.equal(traced, exact)


def test_coloria_lite_encoder_runs_in_float32_under_bf16(bf16_forced):
    from ml.models.coloria_lite import ColoriaLite

    torch.manual_seed(10)
    net = ColoriaLite().eval()
    seen = _dtypes_seen(net, ["encoder._conv_stem", "encoder._blocks.15", "up4", "classify"])
    runner = inference.prepare(net, "cpu", method="logits")
    runner.switch("fast")
    assert runner(torch.rand(1, 1, 64, 96)).dtype == torch.float32
    assert seen["encoder._conv_stem"] == seen["encoder._blocks.15"] == {torch.float32}
    assert seen["up4"] == seen["classify"] == {torch.bfloat16}


def test_eccv16_coloria_bf16_within_tolerance(bf16_forced, monkeypatch):
    """The shipped Coloria-trained ECCV16 in bfloat16 (its first block in float32)."""
    monkeypatch.setattr(ml.config, "SHIPPED_WEIGHTS_DIR", SHIPPED_WEIGHTS_DIR)
    _assert_within_tolerance("zhang-eccv16-coloria", make_photo(160, 120, seed=11))


def test_coloria_lite_bf16_within_tolerance(bf16_forced, tmp_path):
    from ml.models.coloria_lite import random_weights

    torch.manual_seed(6)
    random_weights(ml.get_spec("coloria-lite"), tmp_path)
    ml.configure(weights_dir=tmp_path)
    _assert_within_tolerance("coloria-lite", strength=0.8)
