"""Addresses of pages, quicker than `reverse` for the many links a page lists.

`reverse` costs about 40 µs here (it walks the URL resolver and checks its result against the
route's pattern): a history page has 60 links, the API's job list 80. `path_to` gives the same
string as `reverse(name, args=args)`: it reverses each route once per process with a stand-in
for each UUID argument and then only puts the UUID in its place. A UUID's place in an address
is always its `str()` (Django's uuid converter), whatever the UUID, so the result is the same.
Other arguments (such as a thumbnail's "original" or "result") are part of what is remembered.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

# Each placeholder appears once in an address, or the route is reversed every time.
_STAND_INS = tuple(uuid.UUID(int=0xC0101A << 100 | n) for n in range(4))
# Routes × their constant arguments × script prefixes: a few dozen on a site; the bound only
# guards against a caller that passes ever-new strings.
_MAX_KEPT = 512

_lock = threading.Lock()
_kept: dict[tuple, tuple[str, tuple[str, ...]] | None] = {}


def _template(key: tuple, name: str, args: list[Any]) -> tuple[str, tuple[str, ...]] | None:
    stand_ins: list[str] = []
    filled: list[Any] = []
    for arg in args:
        if isinstance(arg, uuid.UUID):
            stand_in = _STAND_INS[len(stand_ins)]
            stand_ins.append(str(stand_in))
            filled.append(stand_in)
        else:
            filled.append(arg)
    address = reverse(name, args=filled)
    if any(address.count(stand_in) != 1 for stand_in in stand_ins):
        return None
    if len(_kept) < _MAX_KEPT:
        with _lock:
            _kept[key] = (address, tuple(stand_ins))
    return address, tuple(stand_ins)


def path_to(name: str, *args: Any) -> str:
    """`reverse(name, args=args)`, remembered per route (see above)."""
    if sum(isinstance(arg, uuid.UUID) for arg in args) > len(_STAND_INS):
        return reverse(name, args=args)
    shape = tuple(None if isinstance(arg, uuid.UUID) else arg for arg in args)
    key = (name, shape, get_script_prefix(), get_urlconf(), settings.ROOT_URLCONF)
    try:
        found = _kept[key] if key in _kept else _template(key, name, list(args))
    except TypeError:  # an argument that cannot be part of a key (unhashable): no shortcut
        return reverse(name, args=args)
    if found is None:
        return reverse(name, args=args)
    address, stand_ins = found
    values = iter(str(arg) for arg in args if isinstance(arg, uuid.UUID))
    for stand_in in stand_ins:
        address = address.replace(stand_in, next(values))
    return address


def address_maker(
    name: str, finish: Callable[[str], str] = str, *rest: Any
) -> Callable[[Any], str]:
    """A function of a UUID that gives `finish(reverse(name, args=[uuid, *rest]))`, for a list
    that makes the same kind of address for each of its items (`rest`: arguments that are the
    same for every item, such as a thumbnail's "original"). `finish` (such as a request's
    `build_absolute_uri`, which leaves a UUID as it is) runs once, on a stand-in's address."""
    stand_in = str(_STAND_INS[0])
    before, found, after = finish(path_to(name, _STAND_INS[0], *rest)).partition(stand_in)
    if not found or stand_in in after:
        return lambda value: finish(path_to(name, value, *rest))
    return lambda value: (
        before + str(value) + after
        if isinstance(value, uuid.UUID)
        else finish(path_to(name, value, *rest))
    )
