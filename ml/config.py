"""Process-wide settings of the `ml` package: where weights live, which device to use and how
many loaded models a process keeps.

Defaults come from the environment (COLORIA_WEIGHTS_DIR, COLORIA_DEVICE, COLORIA_MODEL_CACHE_MB,
COLORIA_MODEL_TTL, COLORIA_INFERENCE and COLORIA_INFERENCE_<MODEL>, COLORIA_BF16,
COLORIA_FAST_ENGINE, COLORIA_WARM_MODELS, COLORIA_REUSE_MEMORY) so the package works on its
own; a host application (the Django site) calls `configure()` with its own settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# Own-trained weights that ship inside the repository, so a fresh install colorizes offline.
SHIPPED_WEIGHTS_DIR = PACKAGE_DIR / "shipped"

DEVICES = ("auto", "cpu", "cuda")
# How networks run (ml.inference): "" lets each model take its measured default.
INFERENCE_MODES = ("", "exact", "fast")
# What runs `fast` in float32 on the CPU: "auto" (ONNX Runtime for the models where it was
# measured to win, ml.inference.ONNXRUNTIME_BY_DEFAULT), "torch" (PyTorch's trace for every
# model), "onnxruntime" (for every model that exports).
FAST_ENGINES = ("auto", "torch", "onnxruntime")


@dataclass(frozen=True)
class MLSettings:
    weights_dir: Path
    device: str = "auto"
    # Catalogue modules of families kept outside ml/catalogue/ (importable names), loaded with it.
    extra_catalogues: tuple[str, ...] = ()
    # Loaded models a process keeps (ml.runtime): at most this many megabytes of weights, least
    # recently used unloaded first (0: no limit), and none left unused for longer than this many
    # seconds (0: kept for ever).
    model_cache_mb: float = 0
    model_ttl: float = 0
    # "exact" (float32 eager, bit for bit what the parity tests check), "fast" (ml.inference's
    # faster path) or "" (each model's measured default); per model key, overrides of that.
    inference: str = ""
    inference_overrides: dict[str, str] = field(default_factory=dict)
    # Low precision in `fast` (bfloat16 on a CPU with AVX-512 BF16 or AMX, float16 on CUDA):
    # "auto" for the models where it held the tolerance and won the time
    # (ml.inference.LOW_PRECISION_BY_DEFAULT), "on" for every model, "off" for none (float32:
    # the fallback).
    bf16: str = "auto"
    fast_engine: str = "auto"
    # Models a worker loads and warms up when it starts ("all-installed": every installed one).
    warm_models: tuple[str, ...] = ()
    # Whether a process that runs networks keeps the C heap's freed blocks for reuse
    # (ml.memory.reuse_freed_blocks): "auto" and "on" keep them, "off" leaves glibc's default.
    reuse_memory: str = "auto"


def _from_environment() -> MLSettings:
    default_dir = PACKAGE_DIR.parent / "weights"
    device = os.environ.get("COLORIA_DEVICE", "auto").strip().lower() or "auto"
    if device not in DEVICES:
        raise ValueError(f"COLORIA_DEVICE must be one of {', '.join(DEVICES)}, not {device!r}")
    extra = os.environ.get("COLORIA_EXTRA_CATALOGUES", "")
    return MLSettings(
        weights_dir=Path(os.environ.get("COLORIA_WEIGHTS_DIR") or default_dir),
        device=device,
        extra_catalogues=tuple(name.strip() for name in extra.split(",") if name.strip()),
        model_cache_mb=_non_negative("COLORIA_MODEL_CACHE_MB"),
        model_ttl=_non_negative("COLORIA_MODEL_TTL"),
        inference=_inference_mode("COLORIA_INFERENCE", os.environ.get("COLORIA_INFERENCE", "")),
        inference_overrides=_inference_overrides(),
        bf16=_switch("COLORIA_BF16", os.environ.get("COLORIA_BF16", "")),
        fast_engine=_fast_engine("COLORIA_FAST_ENGINE", os.environ.get("COLORIA_FAST_ENGINE", "")),
        warm_models=_names(os.environ.get("COLORIA_WARM_MODELS", "")),
        reuse_memory=_switch("COLORIA_REUSE_MEMORY", os.environ.get("COLORIA_REUSE_MEMORY", "")),
    )


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _switch(name: str, raw: str | bool) -> str:
    """auto, on or off from a setting (also 1/0, true/false, yes/no)."""
    text = str(raw).strip().lower()
    if text in ("", "auto"):
        return "auto"
    if text in ("1", "true", "yes", "on"):
        return "on"
    if text in ("0", "false", "no", "off"):
        return "off"
    raise ValueError(f"{name} must be auto, on or off, not {raw!r}")


def _inference_mode(name: str, raw: str) -> str:
    mode = raw.strip().lower()
    if mode not in INFERENCE_MODES:
        raise ValueError(f"{name} must be exact or fast (or empty), not {raw!r}")
    return mode


def _fast_engine(name: str, raw: str) -> str:
    engine = raw.strip().lower() or "auto"
    if engine not in FAST_ENGINES:
        raise ValueError(f"{name} must be one of {', '.join(FAST_ENGINES)}, not {raw!r}")
    return engine


def _inference_overrides() -> dict[str, str]:
    """COLORIA_INFERENCE_<MODEL> settings, by model key: ZHANG_ECCV16 names zhang-eccv16."""
    prefix = "COLORIA_INFERENCE_"
    return {
        name[len(prefix) :].lower().replace("_", "-"): _inference_mode(name, value)
        for name, value in os.environ.items()
        if name.startswith(prefix) and value.strip()
    }


def _non_negative(name: str) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else 0.0
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None
    if not value >= 0:  # also refuses nan
        raise ValueError(f"{name} must be 0 or more, not {raw!r}")
    return value


settings = _from_environment()


def configure(
    *,
    weights_dir: Path | str | None = None,
    device: str | None = None,
    model_cache_mb: float | None = None,
    model_ttl: float | None = None,
    inference: str | None = None,
    inference_overrides: dict[str, str] | None = None,
    bf16: str | bool | None = None,
    fast_engine: str | None = None,
    warm_models: tuple[str, ...] | list[str] | None = None,
) -> MLSettings:
    """Change the package's settings; returns the new settings."""
    global settings
    changes: dict = {}
    if inference is not None:
        changes["inference"] = _inference_mode("inference", inference)
    if inference_overrides is not None:
        changes["inference_overrides"] = {
            key: _inference_mode(key, mode) for key, mode in inference_overrides.items()
        }
    if bf16 is not None:
        changes["bf16"] = _switch("bf16", bf16)
    if fast_engine is not None:
        changes["fast_engine"] = _fast_engine("fast_engine", fast_engine)
    if warm_models is not None:
        changes["warm_models"] = tuple(warm_models)
    for name, value in (("model_cache_mb", model_cache_mb), ("model_ttl", model_ttl)):
        if value is not None:
            if not value >= 0:
                raise ValueError(f"{name} must be 0 or more, not {value!r}")
            changes[name] = float(value)
    if weights_dir is not None:
        changes["weights_dir"] = Path(weights_dir)
    if device is not None:
        if device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
        changes["device"] = device
    settings = replace(settings, **changes)
    return settings
