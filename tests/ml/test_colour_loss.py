"""The differentiable CIEDE2000 used as a training loss agrees with the metric and trains."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml import metrics
from ml.train.colour_loss import ciede2000, colour_floor_penalty
from tests.ml.test_metrics import sharma_pairs


def test_it_reproduces_the_sharma_pairs_in_both_orders():
    table = torch.from_numpy(sharma_pairs()).double()
    lab1, lab2, expected = table[:, 1:4], table[:, 4:7], table[:, 7]
    # sqrt(x + 1e-8) keeps gradients finite at grey; values move ~1e-4, the rounding of the table.
    assert (ciede2000(lab1, lab2) - expected).abs().max() < 2e-4
    assert (ciede2000(lab2, lab1) - expected).abs().max() < 2e-4


def test_it_agrees_with_the_metric_on_random_colours_of_equal_lightness():
    rng = np.random.default_rng(0)
    lab1 = np.stack([rng.uniform(5, 95, 500), *rng.uniform(-80, 80, (2, 500))], axis=-1)
    lab2 = lab1.copy()
    lab2[:, 1:] = rng.uniform(-80, 80, (500, 2))
    lab2[:50, 1:] = 0  # grey predictions, the case that matters most in training
    ours = ciede2000(torch.from_numpy(lab1), torch.from_numpy(lab2), dim=-1).numpy()
    assert np.abs(ours - metrics.ciede2000(lab1, lab2)).max() < 2e-4


def test_gradients_are_finite_at_grey_and_at_an_exact_match():
    truth = torch.tensor([[[[60.0]], [[0.0]], [[0.0]]], [[[60.0]], [[30.0]], [[-20.0]]]])
    for predicted in (torch.zeros(2, 2, 1, 1), truth[:, 1:].clone()):
        predicted.requires_grad_(True)
        loss = ciede2000(torch.cat([truth[:, :1], predicted], 1), truth).mean()
        loss.backward()
        assert torch.isfinite(predicted.grad).all()


def test_descending_it_moves_a_wrong_colour_to_the_right_one():
    truth = torch.tensor([55.0, 40.0, 35.0]).view(1, 3, 1, 1)
    ab = torch.tensor([-30.0, 10.0]).view(1, 2, 1, 1).requires_grad_(True)
    optimizer = torch.optim.Adam([ab], lr=2.0)
    start = float(ciede2000(torch.cat([truth[:, :1], ab], 1), truth).detach())
    for _ in range(200):
        optimizer.zero_grad()
        loss = ciede2000(torch.cat([truth[:, :1], ab], 1), truth).sum()
        loss.backward()
        optimizer.step()
    assert start > 30 and float(loss) < 1.0


def test_the_colour_floor_costs_only_the_shortfall():
    truth = torch.zeros(2, 2, 4, 4)
    truth[:, 0] = 30.0  # mean chroma 30
    vivid = torch.full((2, 2, 4, 4), 0.0)
    vivid[:, 1] = 25.0  # chroma 25 ≥ 0.6 × 30, in another hue: the floor asks only for colour
    dull = torch.zeros(2, 2, 4, 4)
    dull[:, 0] = 6.0  # chroma 6: 12 short of 18
    assert colour_floor_penalty(vivid, truth, 0.6).tolist() == [0.0, 0.0]
    assert colour_floor_penalty(dull, truth, 0.6) == pytest.approx([12.0, 12.0], abs=1e-3)
