"""The 1000 ImageNet classes (names and parsing) and ImageNet's input normalisation: the ground
floor that the models, the registry and the classifier (`ml.classify`) stand on.

Class names are torchvision's (BSD-3-Clause), one per line in imagenet-classes.txt; reading them
needs no framework.
"""

from __future__ import annotations

import functools
from pathlib import Path

CLASS_NAMES_FILE = Path(__file__).with_name("imagenet-classes.txt")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@functools.cache
def class_names() -> tuple[str, ...]:
    names = tuple(CLASS_NAMES_FILE.read_text(encoding="utf-8").splitlines())
    assert len(names) == 1000, CLASS_NAMES_FILE
    return names


@functools.cache
def _index_by_name() -> dict[str, int]:
    return {name.casefold(): index for index, name in enumerate(class_names())}


def class_label(index: int) -> str:
    """'979: valley'."""
    return f"{index}: {class_names()[index]}"


def parse_class(value: object) -> int:
    """A class index from 979, '979', '979: valley' or 'Valley'. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        index = value
    else:
        text = str(value).strip()
        head = text.split(":", 1)[0].strip()
        if head.lstrip("-").isdigit():
            index = int(head)
        elif text.casefold() in _index_by_name():
            index = _index_by_name()[text.casefold()]
        else:
            raise ValueError(f"{text!r} is not an ImageNet class")
    if not 0 <= index < len(class_names()):
        raise ValueError(f"{index} is not between 0 and {len(class_names()) - 1}")
    return index


def normalise(rgb):
    """RGB in [0, 1], shape (N, 3, H, W), to ImageNet units (what ImageNet networks expect)."""
    import torch

    mean = torch.tensor(IMAGENET_MEAN, device=rgb.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=rgb.device).view(1, 3, 1, 1)
    return (rgb - mean) / std


def denormalise(x):
    """ImageNet units back to RGB, clamped to [0, 1]."""
    import torch

    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x * std + mean).clamp(0.0, 1.0)
