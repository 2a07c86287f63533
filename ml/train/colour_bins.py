"""Zhang et al.'s 313 colour classes, shared by the families that classify colour (Zhang's ECCV16,
Coloria-Lite): the bin centres, soft-encoding of true colours onto them, and the class
rebalancing that keeps rare vivid colours from being washed out by the common desaturated ones.

The bins themselves are in ml.models.colour_classes.
"""

from __future__ import annotations

import numpy as np
import torch

from ml.train import datasets


def nearest_bin(ab: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """(N, 2, h, w) ab -> (N, h, w) index of the nearest bin."""
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    return torch.cdist(flat, bins).argmin(1).reshape(ab.shape[0], *ab.shape[2:])


def soft_encode(
    ab: torch.Tensor, bins: torch.Tensor, neighbours: int = 10, sigma: float = 5.0
) -> torch.Tensor:
    """(N, 2, h, w) ab -> (N, Q, h, w) target distribution over the nearest bins."""
    n, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    distances, index = torch.cdist(flat, bins).topk(neighbours, largest=False)
    weights = torch.exp(-(distances**2) / (2 * sigma**2))
    weights = weights / weights.sum(1, keepdim=True)
    target = torch.zeros(flat.shape[0], bins.shape[0], device=ab.device)
    target.scatter_(1, index, weights)
    return target.reshape(n, h, w, -1).permute(0, 3, 1, 2)


def ab_histogram(photos: list[np.ndarray], bins: np.ndarray, size: int = 64) -> np.ndarray:
    """Empirical distribution of the photos' ab over the bins (at a small size: it is a prior)."""
    bins_t = torch.from_numpy(bins)
    counts = torch.zeros(len(bins))
    for photo in photos:
        lab = torch.from_numpy(datasets.lab_batch([datasets.centre_crop(photo, size)]))
        counts += torch.bincount(nearest_bin(lab[:, 1:], bins_t).ravel(), minlength=len(bins))
    return (counts / counts.sum()).numpy()


def rebalance_weights(
    distribution: np.ndarray, bins: np.ndarray, gamma: float = 0.5, sigma: float = 5.0
) -> np.ndarray:
    """Per-bin loss weights: the inverse of the smoothed distribution mixed with uniform,
    normalised so that their expectation under the distribution is 1."""
    distance2 = ((bins[:, None, :] - bins[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-distance2 / (2 * sigma**2))
    smoothed = kernel @ distribution
    smoothed /= smoothed.sum()
    weights = 1.0 / ((1 - gamma) * smoothed + gamma / len(bins))
    return (weights / (smoothed * weights).sum()).astype(np.float32)


def colour_mask(ab: torch.Tensor, threshold: float = 5.0) -> torch.Tensor:
    """1 for crops that have colour somewhere (|ab| > threshold), 0 for gray ones."""
    return (ab.abs().amax(dim=(1, 2, 3)) > threshold).float()
