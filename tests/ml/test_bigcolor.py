"""BigColor: official keys and shapes, both checkpoint forms, BigGAN's spectral norm, class and
seed handling, and the colour pipeline, on random weights."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

import ml
from ml import classify, imagenet, registry, runtime, weights
from ml.color import gray_to_lightness, rgb_to_lab, to_gray
from ml.errors import InvalidParameters, WeightsInvalid
from ml.models.bigcolor import (
    BigColor,
    BigColorConfig,
    BigColorPredictor,
    SNLinear,
    load_bigcolor,
    parameter_names,
    working_size,
)
from ml.weights import install
from tests.conftest import BIGCOLOR_TINY, make_photo


@pytest.fixture(scope="module")
def official() -> BigColor:
    return BigColor()


# --- Keys and shapes, from the official Colorizer's layout ----------------------------------------

OFFICIAL_SHAPES = {
    # Encoder: five residual blocks, class-conditional batch norms (plain linear gain/bias).
    "E.res1.conv.weight": (96, 1, 1, 1),
    "E.res1.conv_1.weight": (96, 1, 3, 3),
    "E.res1.normalize_1.gain.weight": (1, 128),
    "E.res1.normalize_1.stored_mean": (1,),
    "E.res2.conv_1.weight": (192, 96, 3, 3),
    "E.res3.normalize_2.bias.weight": (384, 128),
    "E.res4.conv.weight": (768, 384, 1, 1),
    "E.res5.conv_2.weight": (768, 768, 3, 3),
    "E.res5.normalize_2.stored_var": (768,),
    # Generator: shared class embedding, the unused linear and first blocks, BigGAN SN buffers.
    "G.shared.weight": (1000, 128),
    "G.linear.weight": (24576, 17),
    "G.linear.u0": (1, 24576),
    "G.linear.sv0": (1,),
    "G.blocks.0.0.conv1.weight": (1536, 1536, 3, 3),
    "G.blocks.0.0.bn1.gain.weight": (1536, 145),
    "G.blocks.1.0.conv_sc.weight": (768, 1536, 1, 1),
    "G.blocks.2.0.conv1.weight": (768, 768, 3, 3),
    "G.blocks.2.0.conv1.u0": (1, 768),
    "G.blocks.2.0.bn2.bias.u0": (1, 768),
    "G.blocks.2.0.bn2.stored_mean": (768,),
    "G.blocks.2.0.in1.weight": (768,),
    "G.blocks.3.0.conv2.weight": (384, 384, 3, 3),
    "G.blocks.3.1.gamma": (),
    "G.blocks.3.1.theta.weight": (48, 384, 1, 1),
    "G.blocks.3.1.phi.u0": (1, 48),
    "G.blocks.3.1.g.weight": (192, 384, 1, 1),
    "G.blocks.3.1.o.weight": (384, 192, 1, 1),
    "G.blocks.4.0.conv_sc.weight": (192, 384, 1, 1),
    "G.blocks.5.0.conv2.weight": (96, 96, 3, 3),
    "G.blocks.5.0.bn2.gain.weight": (96, 145),
    "G.output_layer.0.gain": (96,),
    "G.output_layer.0.stored_var": (96,),
    "G.output_layer.2.weight": (3, 96, 3, 3),
    "G.output_layer.2.sv0": (1,),
}


def test_official_keys_and_shapes(official):
    state = official.state_dict()
    for key, shape in OFFICIAL_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert not [k for k in state if "weight_orig" in k or "num_batches_tracked" in k]
    # Attention's 1x1 convs have no bias; every generator conv and SN linear has u0 and sv0.
    assert "G.blocks.3.1.theta.bias" not in state
    sn_weights = [k[: -len(".u0")] for k in state if k.endswith(".u0")]
    assert all(f"{k}.sv0" in state and f"{k}.weight" in state for k in sn_weights)
    assert len(sn_weights) == 1 + 6 * 7 + 4 + 1  # linear, 6 GBlocks x 7, attention, output


def test_parameter_totals(official):
    encoder = sum(p.numel() for p in official.E.parameters())
    generator = sum(p.numel() for p in official.G.parameters())
    assert (encoder, generator) == (23_069_344, 82_126_404)
    assert encoder + generator == 105_195_748


def test_parameter_order_is_the_state_dict_minus_buffers(official):
    """torch-ema's shadow_params follow parameters(); the official state_dict lists the same
    names in the same order, with the buffers in between."""
    buffers = ("stored_mean", "stored_var", "u0", "sv0")
    from_state = [k for k in official.state_dict() if k.rsplit(".", 1)[-1] not in buffers]
    assert parameter_names(official) == from_state
    assert parameter_names(official)[:3] == [
        "E.res1.conv.weight",
        "E.res1.conv.bias",
        "E.res1.conv_1.weight",
    ]
    assert parameter_names(official)[-1] == "G.output_layer.2.bias"


# --- Checkpoint forms -----------------------------------------------------------------------------


def test_raw_state_dict_loads(bigcolor_weights_dir):
    net = BigColor(BigColorConfig(**BIGCOLOR_TINY))
    path = bigcolor_weights_dir / "EG_011.ckpt"
    load_bigcolor(net, path)
    saved = torch.load(path, weights_only=True)
    for key, value in net.state_dict().items():
        assert torch.equal(value, saved[key]), key


def test_ema_state_maps_shadow_params_by_parameter_order(bigcolor_weights_dir):
    net = BigColor(BigColorConfig(**BIGCOLOR_TINY))
    base = bigcolor_weights_dir / "EG_011.ckpt"
    ema_path = bigcolor_weights_dir / "EG_EMA_011.ckpt"
    load_bigcolor(net, ema_path, base)
    shadow = torch.load(ema_path, weights_only=True)["shadow_params"]
    full = torch.load(base, weights_only=True)
    state = net.state_dict()
    for name, value in zip(parameter_names(net), shadow, strict=True):
        assert torch.equal(state[name], value), name
        assert not torch.equal(state[name], full[name]) or value.numel() == 0
    # Buffers are not in the EMA file: they come from the full checkpoint.
    for key in (
        "G.blocks.3.0.bn1.stored_var",
        "G.blocks.2.0.conv1.u0",
        "E.res2.normalize_1.stored_mean",
    ):
        assert torch.equal(state[key], full[key])


def test_ema_state_without_its_full_checkpoint_is_refused(bigcolor_weights_dir):
    net = BigColor(BigColorConfig(**BIGCOLOR_TINY))
    with pytest.raises(WeightsInvalid, match=r"EG_011\.ckpt"):
        load_bigcolor(net, bigcolor_weights_dir / "EG_EMA_011.ckpt")


def test_mismatched_files_are_refused(bigcolor_weights_dir, tmp_path):
    other = BigColorConfig(channels=16, shared_dim=16, z_chunk=4)
    with pytest.raises(WeightsInvalid, match="does not fit"):
        load_bigcolor(BigColor(other), bigcolor_weights_dir / "EG_011.ckpt")
    short = torch.load(bigcolor_weights_dir / "EG_EMA_011.ckpt", weights_only=True)
    short["shadow_params"] = short["shadow_params"][:-1]
    torch.save(short, tmp_path / "short.ckpt")
    net = BigColor(BigColorConfig(**BIGCOLOR_TINY))
    with pytest.raises(WeightsInvalid, match="averaged parameters"):
        load_bigcolor(net, tmp_path / "short.ckpt", bigcolor_weights_dir / "EG_011.ckpt")
    (tmp_path / "page.ckpt").write_text("<html>not a checkpoint</html>")
    with pytest.raises(WeightsInvalid, match="not a readable weights file"):
        load_bigcolor(net, tmp_path / "page.ckpt")


# --- BigGAN's spectral norm -----------------------------------------------------------------------


def test_spectral_norm_at_eval_is_one_power_iteration_from_u0():
    layer = SNLinear(2, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 1.0], [0.0, 2.0]]))
        layer.bias.zero_()
        layer.u0.copy_(torch.tensor([[1.0, 0.0]]))
    layer.eval()
    # By hand: v = u W / |u W| = (3, 1)/sqrt(10); u' = v W^T / |.| = (10, 2)/sqrt(104);
    # sigma = v W^T u'^T = 104 / sqrt(1040) = sqrt(10.4).
    sigma = math.sqrt(10.4)
    x = torch.tensor([[1.0, 2.0]])
    expected = torch.tensor([[3.0 + 2.0, 4.0]]) / sigma
    assert torch.allclose(layer(x), expected, atol=1e-6)
    assert torch.equal(layer.u0, torch.tensor([[1.0, 0.0]]))  # eval changes nothing
    assert torch.equal(layer.sv0, torch.ones(1))

    layer.train()
    layer(x)
    assert torch.allclose(layer.u0, torch.tensor([[10.0, 2.0]]) / math.sqrt(104), atol=1e-6)
    assert torch.allclose(layer.sv0, torch.tensor([sigma]), atol=1e-6)


# --- The fast forms (`fast`'s reordering of the same function) ---------------------------------


def _varied_tiny_network() -> BigColor:
    """A tiny network whose batch norms have statistics of their own (not 0 and 1), at eval."""
    torch.manual_seed(11)
    net = BigColor(BigColorConfig(**BIGCOLOR_TINY)).eval()
    with torch.no_grad():
        for name, buffer in net.named_buffers():
            if name.endswith("stored_mean"):
                buffer.normal_(0, 0.3)
            elif name.endswith("stored_var"):
                buffer.uniform_(0.5, 2.0)
    return net


def test_fast_forms_compute_the_official_function():
    net = _varied_tiny_network()
    keys = sorted(net.state_dict())
    gray, classes = torch.rand(2, 1, 48, 80), torch.tensor([5, 979])  # a batch, not square
    z = torch.randn(2, net.config.z_dim) * 0.8
    with torch.inference_mode():
        official = net(gray, classes, z)
        net.use_fast_forms(True)
        fast = net(gray, classes, z)
        net.use_fast_forms(False)
        again = net(gray, classes, z)
    assert official.std() > 0.05  # colours that vary, so that a wrong order would show
    assert torch.allclose(fast, official, atol=2e-5)
    assert torch.equal(again, official)  # switching back is bit for bit the official
    assert sorted(net.state_dict()) == keys  # no key added: the checkpoints load as they are


def test_fast_forms_leave_training_as_it_is():
    official, with_forms = _varied_tiny_network().train(), _varied_tiny_network().train()
    with_forms.use_fast_forms(True)
    gray, classes = torch.rand(2, 1, 32, 32), torch.tensor([1, 2])
    z = torch.zeros(2, official.config.z_dim)
    outputs = []
    for net in (official, with_forms):
        torch.manual_seed(0)  # the same dropout masks
        outputs.append(net(gray, classes, z))
    assert torch.equal(*outputs)


# --- Inference ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def predictor(bigcolor_weights_dir) -> BigColorPredictor:
    return BigColorPredictor(bigcolor_weights_dir / "EG_011.ckpt", "cpu", **BIGCOLOR_TINY)


def test_working_size_is_the_official_power_of_16_resize():
    assert working_size(300, 700) == (256, 608)  # 700 x 256/300 = 597.3 -> 38 x 16
    assert working_size(700, 300) == (608, 256)
    assert working_size(256, 256) == (256, 256)
    assert working_size(1000, 1500) == (256, 384)
    assert working_size(20, 5000) == (256, 1024)  # a strip: capped, not 256 x 64000


def test_same_seed_same_colours_other_seed_other_colours(predictor):
    gray = to_gray(make_photo(120, 90))
    first = predictor.predict(gray, imagenet_class=979, seed=7)
    again = predictor.predict(gray, imagenet_class=979, seed=7)
    other = predictor.predict(gray, imagenet_class=979, seed=8)
    assert np.array_equal(first.ab, again.ab)
    assert not np.allclose(first.ab, other.ab)
    assert first.details == {"imagenet_class": 979, "seed": 7}


def test_the_class_changes_the_colours(predictor):
    gray = to_gray(make_photo(120, 90))
    valley = predictor.predict(gray, imagenet_class=979, seed=1)
    tench = predictor.predict(gray, imagenet_class=0, seed=1)
    assert not np.allclose(valley.ab, tench.ab)


def test_candidates_of_a_chosen_class_are_successive_seeds(predictor):
    gray = to_gray(make_photo(80, 80))
    second = predictor.predict(gray, imagenet_class=5, seed=10, candidate=2)
    assert second.details == {"imagenet_class": 5, "seed": 11}
    assert np.array_equal(second.ab, predictor.predict(gray, imagenet_class=5, seed=11).ab)


def test_automatic_class_without_a_classifier_uses_the_fallback_list(predictor):
    gray = to_gray(make_photo(80, 80))
    assert classify.installed_classifier() is None
    for number in (1, 2, 3):
        chroma = predictor.predict(gray, imagenet_class=-1, seed=0, candidate=number)
        assert chroma.details["imagenet_class"] == classify.FALLBACK_CLASSES[number - 1]


def test_automatic_class_ranks_with_an_installed_classifier(tmp_path, predictor):
    """A real ResNet-18 (random weights) installed as the classifier: the candidates are its
    top classes, best first."""
    import torchvision

    torch.manual_seed(5)
    classifier = torchvision.models.resnet18(weights=None).eval()
    torch.save(classifier.state_dict(), tmp_path / weights.known("resnet18").filename)
    ml.configure(weights_dir=tmp_path)
    gray = to_gray(make_photo(100, 70))
    with torch.no_grad():
        logits = classifier(classify._classifier_input(gray))[0]
    top = [int(i) for i in torch.topk(logits, 3).indices]
    assert classify.installed_classifier() == "resnet18"
    assert classify.rank_classes(gray, 3) == top
    chosen = [
        predictor.predict(gray, imagenet_class=-1, candidate=n).details["imagenet_class"]
        for n in (1, 2, 3)
    ]
    assert chosen == top
    runtime.unload_all()


def test_any_aspect_ratio_comes_back_at_its_size_with_its_lightness(bigcolor_model):
    photo = make_photo(300, 700)  # width 300, height 700
    result = ml.colorize(photo, model=bigcolor_model, imagenet_class="valley", seed=3)
    assert result.size == photo.size
    gray = to_gray(photo)
    lab = rgb_to_lab(np.asarray(result, dtype=np.float32) / 255.0)
    assert np.abs(lab[..., 0] - gray_to_lightness(gray)).max() < 1.0  # 8-bit rounding only
    assert np.hypot(lab[..., 1], lab[..., 2]).mean() > 1.0  # colour was added
    details = dict(result.info["coloria"])
    assert details.pop("inference").startswith("fast (")  # BigColor runs fast by default
    assert details == {"imagenet_class": 979, "seed": 3}


# --- Parameters -----------------------------------------------------------------------------------


def test_class_parameter_accepts_numbers_names_and_auto():
    spec = registry.get_spec("bigcolor")
    clean = spec.clean_params
    assert clean({})["imagenet_class"] == -1
    assert clean({"imagenet_class": "auto"})["imagenet_class"] == -1
    assert clean({"imagenet_class": "979"})["imagenet_class"] == 979
    assert clean({"imagenet_class": 0})["imagenet_class"] == 0
    assert clean({"imagenet_class": "979: valley"})["imagenet_class"] == 979
    assert clean({"imagenet_class": "Golden Retriever"})["imagenet_class"] == 207
    for bad in ("unicorn", "1000", "-2", True):
        with pytest.raises(InvalidParameters, match="ImageNet class"):
            clean({"imagenet_class": bad})
    with pytest.raises(InvalidParameters, match="between 1 and 5"):
        clean({"candidates": 6})
    with pytest.raises(InvalidParameters, match="between 0 and"):
        clean({"seed": -1})


def test_candidates_become_numbered_runs():
    spec = registry.get_spec("bigcolor")
    runs = spec.runs(spec.clean_params({"candidates": 3, "imagenet_class": "valley"}))
    assert [run["candidate"] for run in runs] == [1, 2, 3]
    assert all(run["imagenet_class"] == 979 and run["candidates"] == 3 for run in runs)
    assert spec.runs(spec.clean_params({})) == [spec.clean_params({})]


def test_class_names_are_the_thousand_imagenet_classes():
    names = imagenet.class_names()
    assert len(names) == len(set(names)) == 1000
    assert (names[0], names[207], names[979]) == ("tench", "golden retriever", "valley")
    assert imagenet.class_label(979) == "979: valley"


# --- Weights: the averaged file needs the full one ------------------------------------------------


def test_averaged_weights_count_as_installed_only_with_the_full_checkpoint(
    bigcolor_weights_dir, tmp_path
):
    ml.configure(weights_dir=bigcolor_weights_dir)
    assert weights.is_installed("bigcolor-ema")
    (tmp_path / "EG_EMA_011.ckpt").symlink_to(bigcolor_weights_dir / "EG_EMA_011.ckpt")
    ml.configure(weights_dir=tmp_path)
    assert not weights.is_installed("bigcolor-ema")
    assert weights.install_command("bigcolor-ema") == "python manage.py fetch_weights bigcolor-ema"


def test_import_of_averaged_weights_asks_for_the_full_checkpoint_first(
    bigcolor_weights_dir, tmp_path, monkeypatch
):
    from ml.errors import WeightsFetchError

    ml.configure(weights_dir=tmp_path / "weights")
    spec = registry.get_spec("bigcolor")
    monkeypatch.setitem(
        registry._REGISTRY,
        "bigcolor",
        dataclasses.replace(spec, options={**spec.options, **BIGCOLOR_TINY}),
    )
    with pytest.raises(WeightsFetchError, match="needs bigcolor installed first"):
        install.import_file(bigcolor_weights_dir / "EG_EMA_011.ckpt", "bigcolor-ema")
    install.import_file(bigcolor_weights_dir / "EG_011.ckpt", "bigcolor")
    install.import_file(bigcolor_weights_dir / "EG_EMA_011.ckpt", "bigcolor-ema")
    assert weights.is_installed("bigcolor-ema")
