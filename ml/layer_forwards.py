"""Forwards that `fast` installs on some of a network's layers and removes again (ml.winograd's
convolutions, ml.int8's linear layers): each chosen layer's forward becomes
`forward(layer, *extra, made, x)` on that instance only, where `made` is one dict per network,
kept in its `vars` under `key`, for what the new forwards compute once and hold (transformed
or packed weights)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from torch import nn


def opted_in(module: nn.Module, attribute: str) -> list[nn.Module]:
    """Every submodule under those the network names in its `attribute` (a tuple of names as
    in its state_dict: `winograd_modules`, `int8_modules`), themselves included."""
    names = getattr(module, attribute, ())
    return [m for name in names for m in module.get_submodule(name).modules()]


def install(
    module: nn.Module,
    key: str,
    forward: Callable,
    layers: Callable[[], Iterable[tuple[nn.Module, tuple]]],
) -> None:
    """Give each (layer, extra) of `layers()` its `forward`, unless the network has them
    already (then `layers` is not called: a runner installs before every call, and listing a
    network's layers can cost a normalised weight each)."""
    if key in vars(module):
        return
    made: dict = {}
    for layer, extra in layers():
        layer.forward = functools.partial(forward, layer, *extra, made)
    vars(module)[key] = made


def remove(module: nn.Module, key: str, forward: Callable, layers: Iterable[nn.Module]) -> None:
    """The layers' own forwards again (only `forward` is taken off: ml.inference replaces
    float32 submodules' forwards the same way), what they held let go."""
    if vars(module).pop(key, None) is None:
        return
    for layer in layers:
        installed = vars(layer).get("forward")
        if isinstance(installed, functools.partial) and installed.func is forward:
            del layer.forward


def made(module: nn.Module, key: str) -> list[Any]:
    """What the installed forwards have made so far (a copy: another thread may add to it)."""
    return list(vars(module).get(key, {}).values())


def tensor_bytes(module: nn.Module, key: str) -> int:
    """Bytes of the tensors the installed forwards have made, each one a tensor or a tuple or
    list of them (ml.winograd's filters, ml.onednn's packed weights)."""
    held = made(module, key)
    tensors = [t for each in held for t in (each if isinstance(each, tuple | list) else [each])]
    return sum(t.numel() * t.element_size() for t in tensors)


@contextlib.contextmanager
def installed(install_on: Callable, remove_from: Callable, module: nn.Module) -> Iterator[None]:
    """`install_on(module)` for the block, then `remove_from(module)`."""
    install_on(module)
    try:
        yield
    finally:
        remove_from(module)
