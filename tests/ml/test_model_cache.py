"""The model cache keeps a worker's loaded models within a memory budget (least recently used
unloaded first) and releases a model left unused for the time-to-live (ml.runtime)."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch

import ml
from ml import runtime, winograd
from tests.conftest import make_photo

MB = 2**20


class Weights:
    """A stand-in for a loaded model: `megabytes` of weights in a NumPy array."""

    def __init__(self, megabytes: float) -> None:
        self.array = np.zeros(int(megabytes * MB), dtype=np.uint8)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(runtime, "clock", fake)
    return fake


def load(name: str, megabytes: float = 1.0, loads: list[str] | None = None):
    def loader():
        if loads is not None:
            loads.append(name)
        return Weights(megabytes)

    return (name,), loader


def test_sizes_are_the_bytes_of_parameters_and_buffers():
    linear = torch.nn.Linear(10, 20)  # 200 weights and 20 biases, float32
    assert runtime.measure(linear) == 220 * 4
    norm = torch.nn.BatchNorm1d(8)  # weight, bias, running mean and variance, a step counter
    assert runtime.measure(norm) == 4 * 8 * 4 + 8
    half = torch.nn.Linear(10, 20).half()
    assert runtime.measure(half) == 220 * 2

    class Tied(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encode = torch.nn.Linear(16, 16, bias=False)
            self.decode = torch.nn.Linear(16, 16, bias=False)
            self.decode.weight = self.encode.weight  # one tensor, counted once

    assert runtime.measure(Tied()) == 16 * 16 * 4


def test_a_predictor_is_measured_by_the_networks_it_holds():
    class Predictor:
        def __init__(self) -> None:
            self.device = "cpu"
            self.net = torch.nn.Linear(10, 20)
            self.heads = [torch.nn.Linear(4, 4, bias=False), self.net]  # the net again: once
            self.table = np.zeros((100, 3), dtype=np.float32)

    assert runtime.measure(Predictor()) == 220 * 4 + 16 * 4 + 1200

    class KerasLike:
        def count_params(self) -> int:
            return 1000

    assert runtime.measure(KerasLike()) == 4000


def test_real_models_are_measured_when_loaded(toy_family, monkeypatch):
    ml.configure(inference="exact")
    ml.colorize(make_photo(), model="zhang-eccv16")
    ml.colorize(make_photo(), model="toy-slow")
    sizes = {key[0]: size for key, size in runtime.loaded().items()}
    predictor = runtime.load_predictor(ml.get_spec("zhang-eccv16"))
    expected = sum(t.numel() * t.element_size() for t in predictor.net.state_dict().values())
    assert sizes["zhang-eccv16"] == expected > 100 * MB  # ECCV16: 32 million float32 weights
    assert 0 < sizes["toy-slow"] < MB

    # In `fast`, ECCV16's default, its size also counts what its trace holds: Winograd's
    # transformed filters, 4x the weights of the convolutions they serve (ml.winograd; here
    # where each suits, not only where it runs faster).
    monkeypatch.setattr(winograd, "CHOOSE", winograd.ALWAYS)
    del predictor
    runtime.unload_all()
    ml.configure(inference="")
    ml.colorize(make_photo(), model="zhang-eccv16")
    (fast,) = [size for key, size in runtime.loaded().items() if key[0] == "zhang-eccv16"]
    assert fast > expected + 100 * MB


def test_without_a_budget_every_model_stays():
    for name in "abc":
        runtime.cached(*load(name, 2))
    assert [key[0] for key in runtime.loaded()] == ["a", "b", "c"]


def test_the_least_recently_used_model_is_unloaded_first():
    ml.configure(model_cache_mb=2.5)
    loads: list[str] = []
    runtime.cached(*load("a", loads=loads))
    runtime.cached(*load("b", loads=loads))
    runtime.cached(*load("a", loads=loads))  # a is used again: b is now the least recent
    runtime.cached(*load("c", loads=loads))
    assert [key[0] for key in runtime.loaded()] == ["a", "c"]
    runtime.cached(*load("b", loads=loads))  # b loads again; a is now the least recent
    assert [key[0] for key in runtime.loaded()] == ["c", "b"]
    assert loads == ["a", "b", "c", "b"]


def test_a_budget_smaller_than_two_models_keeps_one_and_frees_the_other(toy_family):
    ml.colorize(make_photo(), model="zhang-eccv16")
    zhang = runtime.load_predictor(ml.get_spec("zhang-eccv16"))
    gone = weakref.ref(zhang)
    zhang_size = runtime.loaded()[next(iter(runtime.loaded()))]
    del zhang
    # Room for ECCV16 with 16 bytes to spare: not for the toy's weights besides.
    ml.configure(model_cache_mb=(zhang_size + 16) / MB)

    ml.colorize(make_photo(), model="toy-slow")
    assert [key[0] for key in runtime.loaded()] == ["toy-slow"]
    gc.collect()
    assert gone() is None, "the unloaded model's memory was not handed back"

    ml.colorize(make_photo(), model="zhang-eccv16")  # loads again, in place of the toy
    assert [key[0] for key in runtime.loaded()] == ["zhang-eccv16"]


def test_all_models_one_after_the_other_never_hold_more_than_the_budget(toy_family, monkeypatch):
    # Room for ECCV16 (123 MB in exact) and the toy, not two ECCV16.
    ml.configure(model_cache_mb=200, inference="exact")
    spec = ml.get_spec("zhang-eccv16")
    import dataclasses

    from ml import registry

    twin = dataclasses.replace(spec, key="zhang-eccv16-twin")
    monkeypatch.setitem(registry._REGISTRY, twin.key, twin)
    held = []
    for model in ["zhang-eccv16", "toy-slow", "zhang-eccv16-twin", "toy-slow", "zhang-eccv16"]:
        ml.colorize(make_photo(), model=model)
        held.append(sum(runtime.loaded().values()))
    assert max(held) <= 200 * MB
    assert [key[0] for key in runtime.loaded()] == ["toy-slow", "zhang-eccv16"]


def test_a_model_in_use_is_never_unloaded():
    ml.configure(model_cache_mb=1.5)
    key, loader = load("a")
    with runtime.hold(key, loader) as weights:
        # While `a` predicts it loads another network (BigColor's classifier does): over the
        # budget for a while rather than pulling the model from under itself.
        runtime.cached(*load("b"))
        assert [k[0] for k in runtime.loaded()] == ["a", "b"]
        assert runtime.cached(key, loader) is weights
    runtime.cached(*load("c"))  # put down: now it may go
    assert [k[0] for k in runtime.loaded()] == ["c"]


def test_a_model_unused_for_the_time_to_live_is_released(clock):
    ml.configure(model_ttl=60)
    loads: list[str] = []
    runtime.cached(*load("a", loads=loads))
    clock.now += 50
    runtime.cached(*load("a", loads=loads))  # used again: its minute starts over
    clock.now += 50
    assert runtime.release_idle() == 0
    runtime.cached(*load("b", loads=loads))
    clock.now += 11
    assert runtime.release_idle() == 1  # what the worker calls between jobs
    assert [k[0] for k in runtime.loaded()] == ["b"]
    clock.now += 60
    runtime.cached(*load("a", loads=loads))  # checked on each access too: b has expired
    assert [k[0] for k in runtime.loaded()] == ["a"]
    assert loads == ["a", "b", "a"]


def test_the_time_to_live_spares_a_model_in_use_and_counts_from_when_it_is_put_down(clock):
    ml.configure(model_ttl=10)
    key, loader = load("a")
    with runtime.hold(key, loader):
        clock.now += 100  # a long prediction
        assert runtime.release_idle() == 0
    clock.now += 9
    assert runtime.release_idle() == 0
    clock.now += 1
    assert runtime.release_idle() == 1


def test_the_settings_come_from_the_environment_or_configure(monkeypatch):
    from ml import config

    monkeypatch.setenv("COLORIA_MODEL_CACHE_MB", "3000")
    monkeypatch.setenv("COLORIA_MODEL_TTL", "600")
    settings = config._from_environment()
    assert (settings.model_cache_mb, settings.model_ttl) == (3000, 600)
    monkeypatch.setenv("COLORIA_MODEL_TTL", "soon")
    with pytest.raises(ValueError, match="COLORIA_MODEL_TTL must be a number"):
        config._from_environment()
    with pytest.raises(ValueError, match="model_cache_mb must be 0 or more"):
        ml.configure(model_cache_mb=-1)


class Growing:
    """A stand-in for a model whose fast path grows as it runs (ml.inference's Runner: traces
    and ONNX Runtime sessions made on first use, counted by `held_bytes`)."""

    def __init__(self, megabytes: float) -> None:
        self.weights = Weights(megabytes)
        self.held = 0

    def held_bytes(self) -> int:
        return self.held


def test_what_a_model_holds_after_running_counts_in_its_size():
    key, loader = ("growing",), lambda: Growing(1)
    with runtime.hold(key, loader) as model:
        assert runtime.loaded()[key] == MB
        model.held = 3 * MB  # its first job made a session with an arena
    assert runtime.loaded()[key] == 4 * MB


def test_a_model_that_grows_past_the_budget_unloads_the_others_but_not_itself():
    ml.configure(model_cache_mb=3.5)
    runtime.cached(*load("a"))
    key, loader = ("growing",), lambda: Growing(1)
    with runtime.hold(key, loader) as model:
        assert [k[0] for k in runtime.loaded()] == ["a", "growing"]
        model.held = 3 * MB
    assert [k[0] for k in runtime.loaded()] == ["growing"]
    with runtime.hold(key, loader) as again:  # still loaded, though over the budget alone
        assert again is model
