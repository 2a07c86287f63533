"""Ranking the 1000 ImageNet classes for a photo.

BigColor is conditioned on an ImageNet class. The official pipeline asks a large classifier for
the photo's top classes; Coloria uses an ImageNet classifier when one is installed (torchvision's
ResNets, the same files the training pipelines start from: `fetch_weights resnet101`) and
otherwise a fixed list of broad outdoor classes. People can always choose the class themselves.
The classifier is loaded once per process, in the runtime's cache of loaded networks.
"""

from __future__ import annotations

import numpy as np

from ml import runtime
from ml.imagenet import normalise
from ml.weights import is_installed, weights_path

# Used, in this order, when no classifier is installed: broad scenes whose colours (sky, water,
# foliage, rock) suit most old photographs better than any particular object's.
FALLBACK_CLASSES = (979, 978, 975, 970, 972)  # valley, seashore, lakeside, alp, cliff
# Best first: the first of these that is installed ranks the classes.
CLASSIFIERS = ("resnet101", "resnet34", "resnet18")  # weights keys = torchvision builders
CLASSIFIER_SIDE = 224


def installed_classifier() -> str | None:
    """The weights key of the best installed ImageNet classifier, or None."""
    return next((key for key in CLASSIFIERS if is_installed(key)), None)


def rank_classes(gray: np.ndarray, count: int, *, device: str = "cpu") -> list[int]:
    """The `count` most likely ImageNet classes of a gray photo (values in [0, 1]), best first."""
    key = installed_classifier()
    if key is None:
        return [FALLBACK_CLASSES[i % len(FALLBACK_CLASSES)] for i in range(count)]
    import torch

    network = runtime.cached(("classifier", key, device), lambda: _load_classifier(key, device))
    x = _classifier_input(gray).to(device)
    with torch.inference_mode():
        logits = network(x)[0]
    return [int(i) for i in torch.topk(logits, count).indices]


def _classifier_input(gray: np.ndarray):
    """Gray in three channels stretched to 224 x 224 (as the official script stretches), with
    ImageNet normalisation."""
    import torch
    from PIL import Image

    image = Image.fromarray(np.asarray(gray, dtype=np.float32))  # mode F
    square = image.resize((CLASSIFIER_SIDE, CLASSIFIER_SIDE), resample=Image.BILINEAR)
    x = torch.from_numpy(np.clip(np.asarray(square, dtype=np.float32), 0, 1))[None, None]
    return normalise(x.repeat(1, 3, 1, 1))


def _load_classifier(key: str, device: str):
    import torchvision

    from ml.checkpoints import load_into

    network = getattr(torchvision.models, key)(weights=None)
    load_into(network, weights_path(key))
    return network.eval().to(device)
