"""Reading weight files safely (never unpickling arbitrary objects) in the forms families use."""

from __future__ import annotations

from pathlib import Path

from ml.errors import WeightsInvalid

# Checkpoints from other projects wrap their state_dict: fastai v1 in 'model', BasicSR in 'params'.
_WRAPPER_KEYS = ("model", "params", "params_ema", "state_dict")


def read_state_dict(path: Path | str) -> dict:
    """The float32 state_dict stored in `path` (a plain or wrapped torch save, fp16 or fp32)."""
    import torch

    try:
        loaded = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsInvalid(f"{Path(path).name} is not a readable weights file ({exc}).") from exc
    if not isinstance(loaded, dict):
        raise WeightsInvalid(f"{Path(path).name} does not contain a state_dict.")
    for key in _WRAPPER_KEYS:
        inner = loaded.get(key)
        if isinstance(inner, dict) and inner and all(isinstance(k, str) for k in inner):
            loaded = inner
            break
    return {
        name: (tensor.float() if tensor.is_floating_point() else tensor)
        for name, tensor in loaded.items()
        if isinstance(tensor, torch.Tensor)
    }


def load_into(network, path: Path | str, *, strict: bool = True) -> None:
    """Load a weights file into a network, with a readable error when they do not fit."""
    state = read_state_dict(path)
    # BatchNorm's step counter is unused at inference and absent from files saved by PyTorch
    # before 0.4.1 (or stripped by converters): keep the network's own where it is missing.
    for name, buffer in network.state_dict().items():
        if name.endswith("num_batches_tracked") and name not in state:
            state[name] = buffer
    try:
        network.load_state_dict(state, strict=strict)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:3]
        raise WeightsInvalid(
            f"{Path(path).name} does not fit this network: {' '.join(first)}"
        ) from exc


def save_half(state: dict, path: Path | str, *, wrapper: str | None = None) -> Path:
    """Save a state_dict in fp16 (half the size; read_state_dict converts back), optionally
    wrapped as {wrapper: state} the way a family's official files are."""
    import torch

    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({wrapper: half} if wrapper else half, path)
    return path
