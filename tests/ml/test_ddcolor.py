"""DDColor-L and DDColor-T: official keys and shapes, parameter totals, checkpoint forms, forward
passes and the colour pipeline, on random weights."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import ml
from ml import registry
from ml.checkpoints import load_into
from ml.color import gray_to_lightness, rgb_to_lab, to_gray
from ml.errors import InvalidParameters, WeightsFetchError, WeightsInvalid
from ml.models.ddcolor import (
    DDColor,
    DDColorPredictor,
    build_ddcolor,
    model_input,
    sine_position_embedding,
    working_side,
)
from ml.weights import KNOWN_WEIGHTS, install_command
from ml.weights.install import import_file
from tests.conftest import DDCOLOR_MINI, make_photo

MINI = DDCOLOR_MINI


@pytest.fixture(scope="module")
def large() -> DDColor:
    return build_ddcolor("large").eval()


@pytest.fixture(scope="module")
def tiny() -> DDColor:
    return build_ddcolor("tiny").eval()


def mini_network(seed: int = 0) -> DDColor:
    torch.manual_seed(seed)
    return build_ddcolor("tiny", **MINI).eval()


# --- Keys and shapes, from the official checkpoints' layout ---------------------------------------

COMMON_DECODER_SHAPES = {
    "decoder.last_shuf.conv.0.weight_orig": (4096, 256, 1, 1),  # x4 pixel shuffle, spectral norm
    "decoder.last_shuf.conv.0.bias": (4096,),
    "decoder.last_shuf.conv.0.weight_u": (4096,),
    "decoder.last_shuf.conv.0.weight_v": (256,),
    "decoder.color_decoder.query_feat.weight": (100, 256),
    "decoder.color_decoder.query_embed.weight": (100, 256),
    "decoder.color_decoder.level_embed.weight": (3, 256),
    "decoder.color_decoder.input_proj.0.weight": (256, 512, 1, 1),
    "decoder.color_decoder.input_proj.1.weight": (256, 512, 1, 1),
    "decoder.color_decoder.input_proj.2.weight": (256, 256, 1, 1),
    "decoder.color_decoder.input_proj.2.bias": (256,),
    "decoder.color_decoder.transformer_cross_attention_layers.0.multihead_attn.in_proj_weight": (
        768,
        256,
    ),
    "decoder.color_decoder.transformer_cross_attention_layers.8.multihead_attn.out_proj.weight": (
        256,
        256,
    ),
    "decoder.color_decoder.transformer_cross_attention_layers.8.norm.weight": (256,),
    "decoder.color_decoder.transformer_self_attention_layers.8.self_attn.in_proj_bias": (768,),
    "decoder.color_decoder.transformer_self_attention_layers.4.self_attn.out_proj.bias": (256,),
    "decoder.color_decoder.transformer_ffn_layers.8.linear1.weight": (2048, 256),
    "decoder.color_decoder.transformer_ffn_layers.8.linear2.weight": (256, 2048),
    "decoder.color_decoder.transformer_ffn_layers.8.norm.bias": (256,),
    "decoder.color_decoder.decoder_norm.weight": (256,),
    "decoder.color_decoder.color_embed.layers.0.weight": (256, 256),
    "decoder.color_decoder.color_embed.layers.2.bias": (256,),
    "refine_net.0.0.weight_orig": (2, 103, 1, 1),  # 100 query maps + the 3 input channels
    "refine_net.0.0.bias": (2,),
    "refine_net.0.0.weight_u": (2,),
    "refine_net.0.0.weight_v": (103,),
    "mean": (1, 3, 1, 1),
    "std": (1, 3, 1, 1),
}
LARGE_SHAPES = {
    "encoder.arch.downsample_layers.0.0.weight": (192, 3, 4, 4),  # stem: 4x4 conv, stride 4
    "encoder.arch.downsample_layers.0.1.weight": (192,),
    "encoder.arch.downsample_layers.1.0.bias": (192,),
    "encoder.arch.downsample_layers.3.1.weight": (1536, 768, 2, 2),
    "encoder.arch.stages.0.0.dwconv.weight": (192, 1, 7, 7),
    "encoder.arch.stages.0.0.norm.weight": (192,),
    "encoder.arch.stages.0.0.gamma": (192,),
    "encoder.arch.stages.2.26.pwconv1.weight": (3072, 768),  # stage 3 has 27 blocks
    "encoder.arch.stages.2.26.pwconv2.bias": (768,),
    "encoder.arch.stages.3.2.pwconv2.weight": (1536, 6144),
    "encoder.arch.norm0.weight": (192,),
    "encoder.arch.norm3.bias": (1536,),
    "encoder.arch.norm.weight": (1536,),
    "decoder.layers.0.shuf.conv.0.weight_orig": (2048, 1536, 1, 1),
    "decoder.layers.0.shuf.conv.0.weight_u": (2048,),
    "decoder.layers.0.shuf.conv.0.weight_v": (1536,),
    "decoder.layers.0.shuf.conv.1.running_var": (2048,),
    "decoder.layers.0.bn.weight": (768,),
    "decoder.layers.0.conv.0.weight_orig": (512, 1280, 3, 3),
    "decoder.layers.0.conv.0.weight_v": (1280 * 9,),
    "decoder.layers.0.conv.2.running_mean": (512,),
    "decoder.layers.1.shuf.conv.0.weight_orig": (2048, 512, 1, 1),
    "decoder.layers.1.bn.weight": (384,),
    "decoder.layers.1.conv.0.weight_orig": (512, 896, 3, 3),
    "decoder.layers.2.shuf.conv.0.weight_orig": (1024, 512, 1, 1),
    "decoder.layers.2.bn.weight": (192,),
    "decoder.layers.2.conv.0.weight_orig": (256, 448, 3, 3),
    **COMMON_DECODER_SHAPES,
}
TINY_SHAPES = {
    "encoder.arch.downsample_layers.0.0.weight": (96, 3, 4, 4),
    "encoder.arch.downsample_layers.3.1.weight": (768, 384, 2, 2),
    "encoder.arch.stages.2.8.pwconv1.weight": (1536, 384),  # stage 3 has 9 blocks
    "encoder.arch.stages.3.2.gamma": (768,),
    "encoder.arch.norm.weight": (768,),
    "decoder.layers.0.shuf.conv.0.weight_orig": (2048, 768, 1, 1),
    "decoder.layers.0.bn.weight": (384,),
    "decoder.layers.0.conv.0.weight_orig": (512, 896, 3, 3),
    "decoder.layers.1.bn.weight": (192,),
    "decoder.layers.1.conv.0.weight_orig": (512, 704, 3, 3),
    "decoder.layers.2.bn.weight": (96,),
    "decoder.layers.2.conv.0.weight_orig": (256, 352, 3, 3),
    **COMMON_DECODER_SHAPES,
}
# Convs that have no bias (spectral norm with a BatchNorm after them), the classification head the
# released code no longer builds, weight norm (the official files use spectral norm throughout).
ABSENT = [
    "decoder.layers.0.conv.0.bias",
    "decoder.layers.0.shuf.conv.0.bias",
    "decoder.layers.0.conv.0.weight",
    "decoder.last_shuf.conv.0.weight_g",
    "encoder.arch.head_cls.weight",
    "decoder.color_decoder.transformer_ffn_layers.9.linear1.weight",
]


def test_large_keys_and_shapes(large: DDColor) -> None:
    state = large.state_dict()
    for key, shape in LARGE_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    for key in [*ABSENT, "encoder.arch.stages.2.27.gamma"]:
        assert key not in state
    assert len(state) == 602


def test_tiny_keys_and_shapes(tiny: DDColor) -> None:
    state = tiny.state_dict()
    for key, shape in TINY_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    for key in [*ABSENT, "encoder.arch.stages.2.9.gamma"]:
        assert key not in state
    assert len(state) == 602 - 18 * 9  # 18 fewer ConvNeXt blocks of 9 tensors each


def test_parameter_totals(large: DDColor, tiny: DDColor) -> None:
    assert sum(p.numel() for p in large.parameters()) == 227_869_328
    assert sum(p.numel() for p in tiny.parameters()) == 55_006_640


def test_every_spectral_norm_has_its_vectors(large: DDColor) -> None:
    state = large.state_dict()
    origs = [k for k in state if k.endswith(".weight_orig")]
    assert len(origs) == 8  # 3 blocks x (shuffle, conv), the last shuffle, the refine conv
    for key in origs:
        stem, shape = key.removesuffix("_orig"), state[key].shape
        assert state[stem + "_u"].shape == (shape[0],)
        assert state[stem + "_v"].shape == (math.prod(shape[1:]),)


# --- Checkpoint forms ---------------------------------------------------------------------------


def test_loads_the_official_form_with_its_unused_head(tmp_path: Path) -> None:
    """{'params': state} in fp16 with the 4-way head the official files carry: loads, head
    ignored, every tensor in place."""
    state = mini_network(1).state_dict()
    saved = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    saved["encoder.arch.head_cls.weight"] = torch.zeros(4, MINI["dims"][-1])
    saved["encoder.arch.head_cls.bias"] = torch.zeros(4)
    path = tmp_path / "ddcolor.pth"
    torch.save({"params": saved}, path)
    predictor = DDColorPredictor(path, "cpu", variant="tiny", **MINI)
    for key, value in predictor.net.state_dict().items():
        assert torch.allclose(value.float(), state[key].float(), atol=1e-2, rtol=1e-3), key


def test_loads_a_file_without_normalisation_buffers_or_step_counters(tmp_path: Path) -> None:
    state = mini_network(2).state_dict()
    stripped = {
        k: v for k, v in state.items() if k not in ("mean", "std") and "num_batches" not in k
    }
    path = tmp_path / "stripped.pth"
    torch.save(stripped, path)
    net = build_ddcolor("tiny", **MINI)
    load_into(net, path)
    assert torch.equal(
        net.state_dict()["refine_net.0.0.weight_orig"], state["refine_net.0.0.weight_orig"]
    )
    assert torch.allclose(net.mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))


def test_a_checkpoint_of_the_other_size_is_refused_clearly(tmp_path: Path, tiny: DDColor) -> None:
    path = tmp_path / "ddcolor_paper_tiny.pth"
    torch.save({"params": tiny.state_dict()}, path)
    with pytest.raises(WeightsInvalid, match="does not fit"):
        load_into(build_ddcolor("tiny", **MINI), path)
    with pytest.raises(WeightsInvalid, match="does not fit"):
        DDColorPredictor(path, "cpu", variant="tiny", **{**MINI, "num_queries": 4})


def test_unknown_keys_and_junk_files_are_refused(tmp_path: Path) -> None:
    state = dict(mini_network().state_dict())
    state["decoder.extra.weight"] = torch.zeros(3)
    path = tmp_path / "extra.pth"
    torch.save({"params": state}, path)
    with pytest.raises(WeightsInvalid, match="does not fit"):
        DDColorPredictor(path, "cpu", variant="tiny", **MINI)
    junk = tmp_path / "page.pth"
    junk.write_text("<html>Not found</html>")
    with pytest.raises(WeightsInvalid, match="not a readable weights file"):
        DDColorPredictor(junk, "cpu", variant="tiny", **MINI)


def test_unknown_variant_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="large or tiny"):
        build_ddcolor("huge")


# --- Forward passes -----------------------------------------------------------------------------


@pytest.mark.parametrize(("height", "width"), [(32, 32), (64, 96), (128, 64), (96, 160)])
def test_forward_gives_ab_at_the_input_size(height: int, width: int) -> None:
    net = mini_network(3)
    with torch.no_grad():
        out = net(torch.rand(2, 3, height, width))
    assert out.shape == (2, 2, height, width) and torch.isfinite(out).all()


def test_fast_forms_compute_the_official_network_within_float32_rounding() -> None:
    """`fast`'s order (fused attention without its weights; the refining conv folded into the
    queries and applied before the pixel shuffle) gives the official outputs, for each image of a
    batch and a non-square input; switching back gives them bit for bit."""
    net = mini_network(5)
    with torch.no_grad():  # ConvNeXt's layer scale away from its 1e-6 start, so the encoder counts
        for block in net.encoder.arch.stages.modules():
            if hasattr(block, "gamma"):
                block.gamma.uniform_(0.05, 0.55)
        net.refine_net[0][0].bias.copy_(torch.tensor([18.0, -25.0]))
    rgb = torch.rand(2, 3, 64, 96)
    with torch.inference_mode():
        official = net(rgb)
        net.use_fast_forms(True)
        reordered = net(rgb)
        net.use_fast_forms(False)
        again = net(rgb)
    spread = (official.amax() - official.amin()).item()
    assert spread > 1.0  # the random network's colours vary
    assert torch.allclose(reordered, official, rtol=0, atol=1e-5 * spread)
    assert torch.equal(again, official)


def test_fast_runs_the_third_encoder_stages_mlps_in_int8(tiny: DDColor) -> None:
    from ml import int8

    layers = int8.opted_in(tiny)  # DDColor-T's third stage: 9 blocks of 384 -> 1536 -> 384
    assert len(layers) == 2 * 9
    assert {(layer.in_features, layer.out_features) for layer in layers} == {
        (384, 1536),
        (1536, 384),
    }


def test_fast_runs_the_other_linear_layers_and_the_attention_on_onednn(tiny: DDColor) -> None:
    from ml import int8, onednn

    on_onednn, in_int8 = onednn.opted_in(tiny), int8.opted_in(tiny)
    linears = {m for m in tiny.modules() if type(m) is nn.Linear}
    assert not set(on_onednn) & set(in_int8)
    assert {m for m in on_onednn if type(m) is nn.Linear} == linears - set(in_int8)
    attention = [m for m in on_onednn if type(m) is nn.MultiheadAttention]
    assert len(attention) == 2 * tiny.config.dec_layers  # cross- and self-attention


def test_sides_must_divide_by_32() -> None:
    with pytest.raises(ValueError, match="divisible by 32"):
        mini_network()(torch.rand(1, 3, 48, 64))


def test_tiny_forward_at_the_smallest_input_size(tiny: DDColor) -> None:
    with torch.no_grad():
        out = tiny(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 2, 64, 64) and torch.isfinite(out).all()


def test_position_embedding_is_the_normalised_sine_ladder() -> None:
    """Rows first, then columns; sine on even channels, cosine on odd ones, with frequencies
    10000^(2 floor(i / 2) / half) over positions scaled to (0, 2 pi]."""
    height, width, channels = 3, 5, 8
    pos = sine_position_embedding(height, width, channels, torch.device("cpu"))
    assert pos.shape == (height * width, channels)
    row, column = 2, 4  # the last position: scaled to 2 pi (up to the eps)
    values = pos[row * width + column]
    half = channels // 2
    for i in range(half):
        frequency = 10000 ** (2 * (i // 2) / half)
        trig = math.sin if i % 2 == 0 else math.cos
        assert values[i] == pytest.approx(trig(3 / (3 + 1e-6) * 2 * math.pi / frequency), abs=1e-5)
        expected = trig(5 / (5 + 1e-6) * 2 * math.pi / frequency)
        assert values[half + i] == pytest.approx(expected, abs=1e-5)


# --- The pipeline -------------------------------------------------------------------------------


def test_model_input_is_the_neutral_gray_of_the_same_lightness() -> None:
    gray = np.random.default_rng(0).random((40, 70), dtype=np.float32)
    x = model_input(gray, 64)
    assert x.shape == (1, 3, 64, 64)
    assert torch.allclose(x[:, 0], x[:, 1], atol=1e-4) and torch.allclose(
        x[:, 1], x[:, 2], atol=1e-4
    )
    flat = np.full((20, 30), 0.3, dtype=np.float32)
    assert torch.allclose(model_input(flat, 64), torch.full((1, 3, 64, 64), 0.3), atol=1e-3)


def test_input_size_is_rounded_to_a_multiple_of_32() -> None:
    assert [working_side(s) for s in (256, 270, 500, 512, 1024, 10)] == [
        256,
        256,
        512,
        512,
        1024,
        32,
    ]


def test_colorize_keeps_the_photos_lightness_and_size(ddcolor_model: str) -> None:
    photo = make_photo(300, 140, mode="RGB", seed=7)  # not square: stretched, then back
    result = ml.colorize(photo, model=ddcolor_model, input_size=256)
    assert result.size == photo.size and result.mode == "RGB"
    lab = rgb_to_lab(np.asarray(result, dtype=np.float32) / 255.0)
    assert np.abs(lab[..., 0] - gray_to_lightness(to_gray(photo))).max() < 1.0  # 8-bit rounding
    assert np.hypot(lab[..., 1], lab[..., 2]).mean() > 5.0  # the network added colour


def test_predictor_returns_lab_chroma_at_the_working_size(ddcolor_model: str) -> None:
    from ml import runtime

    predictor = runtime.load_predictor(registry.get_spec(ddcolor_model), "cpu")
    chroma = predictor.predict(to_gray(make_photo(90, 50)), input_size=300)
    assert chroma.space == "lab" and chroma.ab.shape == (288, 288, 2)


def test_input_size_is_validated(ddcolor_model: str) -> None:
    spec = registry.get_spec("ddcolor-paper")
    assert spec.clean_params({}) == {"input_size": 512}
    assert spec.clean_params({"input_size": "768"}) == {"input_size": 768}
    photo = make_photo(64, 48)
    for bad in (128, 2048, "big"):
        with pytest.raises(InvalidParameters, match="Input size"):
            ml.colorize(photo, model=ddcolor_model, input_size=bad)
    with pytest.raises(InvalidParameters, match="does not take"):
        ml.colorize(photo, model=ddcolor_model, render_factor=35)


# --- Registry and weights -----------------------------------------------------------------------


def test_the_official_models_and_their_files_are_registered() -> None:
    files = {
        "ddcolor-paper": ("ddcolor_paper.pth", "ddcolor-large", "large"),
        "ddcolor-modelscope": ("ddcolor_modelscope.pth", "ddcolor-large", "large"),
        "ddcolor-artistic": ("ddcolor_artistic.pth", "ddcolor-large", "large"),
        "ddcolor-tiny": ("ddcolor_paper_tiny.pth", "ddcolor-tiny", "tiny"),
    }
    for key, (filename, network, variant) in files.items():
        entry = KNOWN_WEIGHTS[key]
        assert (entry.filename, entry.network, entry.licence) == (filename, network, "Apache-2.0")
        assert entry.urls == (
            f"https://huggingface.co/piddnad/DDColor-models/resolve/main/{filename}",
        )
        assert entry.official and entry.sha256 is None and entry.purpose == "model"
        spec = registry.get_spec(key)
        assert spec.family == "ddcolor" and spec.official and spec.weights == key
        assert spec.options == {"variant": variant}
        assert [p.name for p in spec.params] == ["input_size"]
    own = registry.get_spec("ddcolor-tiny-coloria")
    assert not own.official and own.options == {"variant": "tiny"}
    assert not KNOWN_WEIGHTS["ddcolor-tiny-coloria"].urls
    assert install_command("ddcolor-tiny-coloria") == (
        "python manage.py import_weights ddcolor-tiny-coloria.pth --model ddcolor-tiny-coloria"
    )


def test_own_trained_weights_are_imported_by_loading_them(tmp_path: Path, tiny: DDColor) -> None:
    """A DDColor-T file in the exported form installs as the Coloria-trained model (checked by
    loading it into the official architecture); one of another shape is refused."""
    good = tmp_path / "export.pth"
    state = {k: v.half() if v.is_floating_point() else v for k, v in tiny.state_dict().items()}
    torch.save({"params": state}, good)
    installed = import_file(good, "ddcolor-tiny-coloria", dest_dir=tmp_path / "weights")
    assert installed.name == "ddcolor-tiny-coloria.pth"
    bad = tmp_path / "mini.pth"
    torch.save({"params": mini_network().state_dict()}, bad)
    with pytest.raises(WeightsFetchError, match="cannot be used"):
        import_file(bad, "ddcolor-tiny-coloria", dest_dir=tmp_path / "other")
