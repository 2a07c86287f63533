"""Colour that follows the photo's edges: Levin, Lischinski & Weiss, "Colorization using
Optimization" (SIGGRAPH 2004).

Neighbouring pixels of similar lightness should have similar colour. Each pixel r is tied to its
8 neighbours s with the weight w_rs = exp(-(Y_r - Y_s)^2 / σ²_rs), where σ² comes from the local
variance of Y in a 3 x 3 window, as in the paper. Known colours (scribbles) are fixed; a and b
are each the minimiser of Σ_rs w_rs (U_r - U_s)^2 over the unknown pixels, i.e. the solution of
the graph-Laplacian system L_uu U_u = -L_uk U_k. This is the paper's objective with the weights
made symmetric (σ²_rs the mean of both pixels' σ²), which makes the system symmetric positive
definite, solved exactly by a sparse LU factorisation with a fill-reducing ordering. On 2 cores
that takes under a second at the working size the photo is solved at (ml.guided.scribbles; the
colour is then upsampled onto the full-resolution lightness, as every model does); algebraic
multigrid (pyamg) was slower there: smoothed aggregation spent longer on its setup alone, plain
aggregation needed about 20 conjugate-gradient steps of a costly V-cycle each.

Refining a model's colours: with `prior`, what is solved for is the change D = U - prior, tied
to zero everywhere with a small weight (`prior_weight`) and fixed at the scribbles. A stroke's
change then spreads inside its region (where lightness is smooth) and fades out across edges
and with distance, so the rest of the model's colours stay as they were.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.ndimage import uniform_filter
from scipy.sparse.linalg import splu

# Levin et al.'s constants: σ² is 0.6 x the local variance of Y (in [0, 1]), at least 2e-6, and
# large enough that the most similar neighbour keeps a weight of at least 0.01.
VARIANCE_SCALE = 0.6
MIN_SIGMA2 = 2e-6
MIN_BEST_WEIGHT = 0.01
# The 4 of the 8 neighbours that are not the mirror image of another: each edge once.
_OFFSETS = ((0, 1), (1, -1), (1, 0), (1, 1))


def _edges(lightness: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every 8-neighbour pair (i, j) of the flattened image with its weight w_ij."""
    height, width = lightness.shape
    y = lightness.astype(np.float64) / 100.0
    mean = uniform_filter(y, size=3, mode="reflect")
    variance = np.maximum(uniform_filter(y * y, size=3, mode="reflect") - mean * mean, 0.0)
    index = np.arange(height * width).reshape(height, width)
    pairs = []
    for dy, dx in _OFFSETS:
        rows = slice(0, height - dy)
        cols = slice(max(-dx, 0), width - max(dx, 0))
        shifted = (slice(dy, height), slice(max(dx, 0), width - max(-dx, 0)))
        pairs.append((index[rows, cols].ravel(), index[shifted].ravel()))
    first = np.concatenate([p[0] for p in pairs])
    second = np.concatenate([p[1] for p in pairs])
    flat = y.ravel()
    squared = (flat[first] - flat[second]) ** 2
    # Each pixel's smallest squared difference to a neighbour (for the weight floor).
    nearest = np.full(height * width, np.inf)
    np.minimum.at(nearest, first, squared)
    np.minimum.at(nearest, second, squared)
    sigma2 = np.maximum(VARIANCE_SCALE * variance.ravel(), MIN_SIGMA2)
    sigma2 = np.maximum(sigma2, -nearest / np.log(MIN_BEST_WEIGHT))
    weights = np.exp(-squared / (0.5 * (sigma2[first] + sigma2[second])))
    return first, second, weights


def laplacian(lightness: np.ndarray) -> sparse.csr_matrix:
    """The graph Laplacian D - W of the photo's 8-neighbour affinities (symmetric, PSD)."""
    count = lightness.size
    first, second, weights = _edges(lightness)
    affinity = sparse.coo_matrix(
        (np.concatenate([weights, weights]), (np.concatenate([first, second]),
         np.concatenate([second, first]))),
        shape=(count, count),
    ).tocsr()  # fmt: skip
    degree = np.asarray(affinity.sum(axis=1)).ravel()
    return (sparse.diags(degree) - affinity).tocsr()


def propagate(
    lightness: np.ndarray,
    known: np.ndarray,
    values: np.ndarray,
    prior: np.ndarray | None = None,
    prior_weight: float = 1e-4,
) -> np.ndarray:
    """Chroma (h, w, 2) that equals `values` where `known` (h, w bool) is set and follows the
    lightness (h, w, L* in 0-100) elsewhere; with `prior` (h, w, 2), the change from it instead.

    Without known pixels the answer is the prior (or no colour at all)."""
    height, width = lightness.shape
    start = np.zeros((height, width, 2)) if prior is None else prior.astype(np.float64)
    fixed = known.ravel()
    if not fixed.any():
        return start.astype(np.float32)
    change = np.zeros((height * width, 2))
    change[fixed] = values.reshape(-1, 2)[fixed] - start.reshape(-1, 2)[fixed]
    free = ~fixed
    if not free.any():
        return values.astype(np.float32)
    matrix = laplacian(lightness)
    system = matrix[free][:, free]
    if prior is not None:
        system = system + prior_weight * sparse.identity(system.shape[0], format="csr")
    right = -(matrix[free][:, fixed] @ change[fixed])
    change[free] = _solve(system.tocsr(), right)
    return (start.reshape(-1, 2) + change).reshape(height, width, 2).astype(np.float32)


def _solve(system: sparse.csr_matrix, right: np.ndarray) -> np.ndarray:
    """Both channels of system @ x = right, by one sparse LU factorisation (SuperLU with a
    minimum-degree ordering of the symmetric pattern).

    A region that no known pixel reaches (cut off by perfectly sharp edges) makes the system
    singular there; the tiny regularisation gives it no colour instead of failing."""
    system = system + 1e-8 * sparse.identity(system.shape[0], format="csr")
    factors = splu(system.tocsc(), permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
    return factors.solve(np.ascontiguousarray(right))
