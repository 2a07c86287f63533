"""The 1000 ImageNet classes, and ranking them for a photo.

BigColor is conditioned on an ImageNet class. The official pipeline asks a large classifier for
the photo's top classes; Coloria uses an ImageNet classifier when one is installed (torchvision's
ResNets, the same files the training pipelines start from: `fetch_weights resnet101`) and
otherwise a fixed list of broad outdoor classes. People can always choose the class themselves.

Class names are torchvision's (BSD-3-Clause), one per line in imagenet-classes.txt; reading them
needs no framework.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

CLASS_NAMES_FILE = Path(__file__).with_name("imagenet-classes.txt")
# Used, in this order, when no classifier is installed: broad scenes whose colours (sky, water,
# foliage, rock) suit most old photographs better than any particular object's.
FALLBACK_CLASSES = (979, 978, 975, 970, 972)  # valley, seashore, lakeside, alp, cliff
# Best first: the first of these that is installed ranks the classes.
CLASSIFIERS = ("resnet101", "resnet34", "resnet18")  # weights keys = torchvision builders
CLASSIFIER_SIDE = 224
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


def installed_classifier() -> str | None:
    """The weights key of the best installed ImageNet classifier, or None."""
    from ml.weights import is_installed

    return next((key for key in CLASSIFIERS if is_installed(key)), None)


def rank_classes(gray: np.ndarray, count: int, *, device: str = "cpu") -> list[int]:
    """The `count` most likely ImageNet classes of a gray photo (values in [0, 1]), best first."""
    key = installed_classifier()
    if key is None:
        return [FALLBACK_CLASSES[i % len(FALLBACK_CLASSES)] for i in range(count)]
    import torch

    network = _classifier(key, device)
    x = _classifier_input(gray).to(device)
    with torch.inference_mode():
        logits = network(x)[0]
    return [int(i) for i in torch.topk(logits, count).indices]


def _classifier_input(gray: np.ndarray):
    """Gray in three channels stretched to 224 x 224 (as the official script stretches), with
    ImageNet normalisation."""
    import torch
    from PIL import Image

    image = Image.fromarray(np.asarray(gray, dtype=np.float32), mode="F")
    square = image.resize((CLASSIFIER_SIDE, CLASSIFIER_SIDE), resample=Image.BILINEAR)
    x = torch.from_numpy(np.clip(np.asarray(square, dtype=np.float32), 0, 1))[None, None]
    return normalise(x.repeat(1, 3, 1, 1))


@functools.cache
def _classifier(key: str, device: str):
    import torchvision

    from ml.checkpoints import load_into
    from ml.weights import weights_path

    network = getattr(torchvision.models, key)(weights=None)
    load_into(network, weights_path(key))
    return network.eval().to(device)
