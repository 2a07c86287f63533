"""oneDNN's float32 products (ml.onednn) on `fast`'s eager path: the same function as the
layers' own forwards (float32 rounding apart), only where a network opts in, its own forwards
back on the way to `exact`; and the banded MLP behind DDColor's last upsampling."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ml import onednn

pytestmark = pytest.mark.skipif(not onednn.available(), reason="this PyTorch has no oneDNN")


class Net(nn.Module):
    onednn_modules = ("body",)

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.ModuleDict(
            {
                "mlp": nn.Sequential(nn.Linear(48, 96), nn.ReLU(), nn.Linear(96, 48)),
                "attention": nn.MultiheadAttention(48, 4, batch_first=True),
            }
        )
        self.head = nn.Linear(48, 3)

    def forward(self, queries: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        attended = self.body["attention"](queries, memory, memory + 1, need_weights=False)[0]
        return self.head(self.body["mlp"](attended))


def _net() -> Net:
    torch.manual_seed(0)
    net = Net().eval()
    with torch.no_grad():  # biases that matter (MultiheadAttention starts them at zero)
        for name, parameter in net.named_parameters():
            if "bias" in name:
                parameter.normal_(0, 0.1)
    return net


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    return torch.randn(2, 7, 48), torch.randn(2, 37, 48)


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, rtol=0, atol=1e-5 * b.abs().max().item())


def test_only_the_opted_in_layers_run_on_onednn() -> None:
    net = _net()
    attention = net.body["attention"]
    assert onednn.opted_in(net) == [net.body["mlp"][0], net.body["mlp"][2], attention]
    with onednn.installed(net):
        assert "forward" in vars(attention) and "forward" not in vars(net.head)
        assert "forward" not in vars(attention.out_proj)  # the attention's forward computes it


def test_the_products_compute_the_layers_function_and_remove_restores_it(monkeypatch) -> None:
    net, inputs = _net(), _inputs()
    products = []
    run = onednn.product()
    monkeypatch.setattr(onednn, "product", lambda: lambda *a: products.append(1) or run(*a))
    with torch.inference_mode():
        official = net(*inputs)
        onednn.install(net)
        fast = net(*inputs)
        held = onednn.held_bytes(net)
        onednn.remove(net)
        again = net(*inputs)
    # The attention's four projections and the MLP's two layers (not the head: not opted in).
    assert len(products) == 6
    assert _close(fast, official)
    assert held == 4 * (4 * 48 * 48 + 2 * 48 * 96)  # float32 copies of the weights
    assert onednn.held_bytes(net) == 0
    assert torch.equal(again, official)


def test_attention_with_what_it_does_not_compute_runs_the_official_forward() -> None:
    net, (queries, memory) = _net(), _inputs()
    attention = net.body["attention"]
    mask = torch.zeros(2, 37, dtype=torch.bool)
    mask[:, -5:] = True
    with torch.inference_mode(), onednn.installed(net):
        for kwargs in ({"need_weights": True}, {"key_padding_mask": mask, "need_weights": False}):
            installed = attention(queries, memory, memory, **kwargs)
            official = nn.MultiheadAttention.forward(attention, queries, memory, memory, **kwargs)
            assert torch.equal(installed[0], official[0])
        weights = attention(queries, memory, memory, need_weights=True)[1]
        assert weights.shape == (2, 7, 37)  # the official forward's averaged weights
        assert onednn.held_bytes(net) == 0  # nothing was packed


def test_other_inputs_and_training_keep_the_layers_own_forward() -> None:
    net = _net().double()
    queries, memory = (x.double() for x in _inputs())
    with torch.inference_mode(), onednn.installed(net):
        linear = net.body["mlp"][0]
        assert torch.equal(linear(queries), nn.Linear.forward(linear, queries))  # not float32
        net(queries, memory)
        assert onednn.held_bytes(net) == 0
    net = _net().train()
    queries, memory = _inputs()
    with onednn.installed(net):
        linear = net.body["mlp"][0]
        assert torch.equal(linear(queries), nn.Linear.forward(linear, queries))  # training
        assert onednn.held_bytes(net) == 0


@pytest.mark.parametrize("rows", [1, onednn.BAND_ROWS, 2 * onednn.BAND_ROWS + 37])
def test_the_banded_mlp_computes_relu_mlp(rows: int) -> None:
    torch.manual_seed(rows)
    x, first, bias, second = (
        torch.randn(rows, 24), torch.randn(160, 24), torch.randn(160), torch.randn(9, 160)
    )  # fmt: skip
    with torch.inference_mode():
        banded = onednn.relu_mlp(x, first, bias, second)
        formula = F.relu(x @ first.T + bias) @ second.T
        assert banded.shape == (rows, 9) and _close(banded, formula)
        as_float64 = onednn.relu_mlp(x.double(), first.double(), bias.double(), second.double())
        assert as_float64.dtype == torch.float64 and _close(as_float64.float(), formula)
