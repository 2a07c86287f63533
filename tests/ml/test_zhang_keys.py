"""The Zhang networks' state_dicts have exactly the official keys and shapes.

The tables are written from the published layer lists (../shared/reference/official-models.md),
not read from our own modules, so a renamed or reshaped layer fails here.
"""

from __future__ import annotations

import pytest

from ml.models.zhang import ECCV16, SIGGRAPH17


def conv(prefix: str, cin: int, cout: int, k: int = 3, bias: bool = True) -> dict:
    table = {f"{prefix}.weight": (cout, cin, k, k)}
    if bias:
        table[f"{prefix}.bias"] = (cout,)
    return table


def deconv(prefix: str, cin: int, cout: int) -> dict:
    # PyTorch stores ConvTranspose2d weights as (in, out, k, k).
    return {f"{prefix}.weight": (cin, cout, 4, 4), f"{prefix}.bias": (cout,)}


def bn(prefix: str, n: int) -> dict:
    return {
        f"{prefix}.weight": (n,),
        f"{prefix}.bias": (n,),
        f"{prefix}.running_mean": (n,),
        f"{prefix}.running_var": (n,),
        f"{prefix}.num_batches_tracked": (),
    }


def block(name: str, channels: list[int], bn_index: int) -> dict:
    """Convs at indices 0, 2, 4... taking channels[i] -> channels[i+1], then BatchNorm."""
    table = {}
    for i in range(len(channels) - 1):
        table |= conv(f"{name}.{2 * i}", channels[i], channels[i + 1])
    return table | bn(f"{name}.{bn_index}", channels[-1])


def eccv16_table() -> dict:
    table = block("model1", [1, 64, 64], 4) | block("model2", [64, 128, 128], 4)
    table |= block("model3", [128, 256, 256, 256], 6) | block("model4", [256, 512, 512, 512], 6)
    for name in ("model5", "model6", "model7"):
        table |= block(name, [512, 512, 512, 512], 6)
    table |= deconv("model8.0", 512, 256) | conv("model8.2", 256, 256) | conv("model8.4", 256, 256)
    table |= conv("model8.6", 256, 313, k=1)
    return table | conv("model_out", 313, 2, k=1, bias=False)


def siggraph17_table() -> dict:
    table = block("model1", [4, 64, 64], 4) | block("model2", [64, 128, 128], 4)
    table |= block("model3", [128, 256, 256, 256], 6) | block("model4", [256, 512, 512, 512], 6)
    for name in ("model5", "model6", "model7"):
        table |= block(name, [512, 512, 512, 512], 6)
    table |= deconv("model8up.0", 512, 256) | conv("model3short8.0", 256, 256)
    table |= conv("model8.1", 256, 256) | conv("model8.3", 256, 256) | bn("model8.5", 256)
    table |= deconv("model9up.0", 256, 128) | conv("model2short9.0", 128, 128)
    table |= conv("model9.1", 128, 128) | bn("model9.3", 128)
    table |= deconv("model10up.0", 128, 128) | conv("model1short10.0", 64, 128)
    table |= conv("model10.1", 128, 128)
    table |= conv("model_class.0", 256, 529, k=1)
    return table | conv("model_out.0", 128, 2, k=1)


@pytest.mark.parametrize(
    ("network", "table", "total"),
    [(ECCV16, eccv16_table, 32_236_011), (SIGGRAPH17, siggraph17_table, 34_187_027)],
    ids=["eccv16", "siggraph17"],
)
def test_state_dict_matches_the_official_keys_and_shapes(network, table, total):
    state = network().state_dict()
    expected = table()
    assert sorted(state) == sorted(expected)
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert sum(p.numel() for p in network().parameters()) == total


def test_official_checkpoint_layout_loads_strictly(tmp_path):
    """A file saved in the official layout (plain state_dict) loads with strict=True."""
    import torch

    from ml.checkpoints import load_into

    path = tmp_path / "colorization_release_v2-9b330a0b.pth"
    torch.save({k: torch.zeros(s) for k, s in eccv16_table().items()}, path)
    load_into(ECCV16(), path)
