"""DeOldify Artistic and Stable: official keys and shapes, checkpoint forms, the normalised
convolutions, forward passes and the colour pipeline, on random weights."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import ml
from ml.color import YUV_FROM_RGB, to_gray
from ml.errors import InvalidParameters, WeightsInvalid
from ml.models.deoldify import (
    Architecture,
    DeOldifyPredictor,
    SpectralNormConv,
    WeightNormConv2d,
    build_generator,
)
from tests.conftest import make_photo

TINY = Architecture("resnet18", "deep", 0.25)


@pytest.fixture(scope="module")
def artistic() -> nn.Module:
    return build_generator("artistic").eval()


@pytest.fixture(scope="module")
def stable_state() -> dict[str, torch.Size]:
    return {k: v.shape for k, v in build_generator("stable").state_dict().items()}


# --- Keys and shapes, from the official checkpoints' layout ---------------------------------------

ARTISTIC_SHAPES = {
    "layers.0.0.weight": (64, 3, 7, 7),  # ResNet-34 conv1
    "layers.0.1.running_var": (64,),
    "layers.0.6.5.conv2.weight": (256, 256, 3, 3),  # layer3 has 6 blocks
    "layers.0.7.2.conv2.weight": (512, 512, 3, 3),
    "layers.1.weight": (512,),
    "layers.3.0.0.weight_orig": (1024, 512, 3, 3),
    "layers.3.0.0.weight_u": (1024,),
    "layers.3.0.0.weight_v": (512 * 9,),
    "layers.3.0.2.weight": (1024,),
    "layers.3.1.0.weight_orig": (512, 1024, 3, 3),
    "layers.4.shuf.conv.0.weight_orig": (1024, 512, 1, 1),
    "layers.4.shuf.conv.1.running_mean": (1024,),
    "layers.4.bn.weight": (256,),
    "layers.4.conv1.0.weight_orig": (768, 512, 3, 3),
    "layers.4.conv2.0.weight_orig": (768, 768, 3, 3),
    "layers.4.conv2.2.bias": (768,),
    "layers.5.shuf.conv.0.weight_orig": (1536, 768, 1, 1),
    "layers.5.bn.weight": (128,),
    "layers.5.conv1.0.weight_orig": (768, 512, 3, 3),
    "layers.5.conv2.3.query.weight_orig": (96, 768, 1),
    "layers.5.conv2.3.query.weight_u": (96,),
    "layers.5.conv2.3.query.weight_v": (768,),
    "layers.5.conv2.3.key.weight_orig": (96, 768, 1),
    "layers.5.conv2.3.value.weight_orig": (768, 768, 1),
    "layers.5.conv2.3.gamma": (1,),
    "layers.6.shuf.conv.0.weight_orig": (1536, 768, 1, 1),
    "layers.6.bn.weight": (64,),
    "layers.6.conv1.0.weight_orig": (672, 448, 3, 3),
    "layers.6.conv2.0.weight_orig": (672, 672, 3, 3),
    "layers.7.shuf.conv.0.weight_orig": (1344, 672, 1, 1),
    "layers.7.bn.weight": (64,),
    "layers.7.conv1.0.weight_orig": (300, 400, 3, 3),
    "layers.7.conv2.0.weight_orig": (300, 300, 3, 3),
    "layers.8.conv.0.weight_g": (1200, 1, 1, 1),
    "layers.8.conv.0.weight_v": (1200, 300, 1, 1),
    "layers.8.conv.0.bias": (1200,),
    "layers.10.layers.0.0.weight_orig": (303, 303, 3, 3),
    "layers.10.layers.0.0.bias": (303,),
    "layers.10.layers.1.0.weight_orig": (303, 303, 3, 3),
    "layers.11.0.weight_orig": (3, 303, 1, 1),
    "layers.11.0.bias": (3,),
}
STABLE_SHAPES = {
    "layers.0.6.22.conv3.weight": (1024, 256, 1, 1),  # ResNet-101: layer3 has 23 blocks
    "layers.1.weight": (2048,),
    "layers.3.0.0.weight_orig": (4096, 2048, 3, 3),
    "layers.3.1.0.weight_orig": (2048, 4096, 3, 3),
    "layers.4.shuf.conv.0.weight_orig": (2048, 2048, 1, 1),
    "layers.4.bn.weight": (1024,),
    "layers.4.conv.0.weight_orig": (512, 1536, 3, 3),
    "layers.4.conv.2.weight": (512,),
    "layers.5.shuf.conv.0.weight_orig": (2048, 512, 1, 1),
    "layers.5.bn.weight": (512,),
    "layers.5.conv.0.weight_orig": (512, 1024, 3, 3),
    "layers.5.conv.3.query.weight_orig": (64, 512, 1),
    "layers.5.conv.3.value.weight_orig": (512, 512, 1),
    "layers.6.shuf.conv.0.weight_orig": (2048, 512, 1, 1),
    "layers.6.bn.weight": (256,),
    "layers.6.conv.0.weight_orig": (512, 768, 3, 3),
    "layers.7.shuf.conv.0.weight_orig": (1024, 512, 1, 1),
    "layers.7.bn.weight": (64,),
    "layers.7.conv.0.weight_orig": (256, 320, 3, 3),
    "layers.8.conv.0.weight_v": (1024, 256, 1, 1),
    "layers.10.layers.0.0.weight_orig": (259, 259, 3, 3),
    "layers.11.0.weight_orig": (3, 259, 1, 1),
}
# Convs that carry no bias: spectral norm with the extra BatchNorm after them.
ABSENT = ["layers.3.0.0.bias", "layers.4.shuf.conv.0.bias", "layers.5.conv2.3.query.bias"]


def test_artistic_keys_and_shapes(artistic: nn.Module) -> None:
    state = artistic.state_dict()
    for key, shape in ARTISTIC_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    for key in ABSENT:
        assert key not in state
    assert not any(k.startswith(("layers.2.", "layers.9.", "layers.12.")) for k in state)
    assert "layers.5.conv1.3.gamma" not in state  # one attention layer only, at 1/8 scale


def test_stable_keys_and_shapes(stable_state: dict[str, torch.Size]) -> None:
    for key, shape in STABLE_SHAPES.items():
        assert tuple(stable_state[key]) == shape, key
    assert "layers.4.conv1.0.weight_orig" not in stable_state  # the wide decoder: one conv


@pytest.mark.parametrize(("variant", "total"), [("artistic", 63_646_881), ("stable", 218_222_197)])
def test_parameter_totals(variant: str, total: int) -> None:
    assert sum(p.numel() for p in build_generator(variant).parameters()) == total


def test_every_spectral_norm_has_its_vectors(stable_state: dict[str, torch.Size]) -> None:
    origs = [k for k in stable_state if k.endswith(".weight_orig")]
    assert len(origs) == 16  # middle 2, four blocks x 2, attention 3, res block 2, last 1
    for key in origs:
        stem, shape = key.removesuffix("_orig"), stable_state[key]
        assert stable_state[stem + "_u"] == (shape[0],)
        assert stable_state[stem + "_v"] == (int(np.prod(shape[1:])),)
        assert stem not in stable_state  # no plain 'weight' beside weight_orig


# --- Checkpoint forms ---------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["plain", "fastai", "fastai-with-opt", "no-batches-tracked"])
def test_loads_every_checkpoint_form(tmp_path, form: str) -> None:
    torch.manual_seed(3)
    source = build_generator(TINY)
    state = source.state_dict()
    if form == "no-batches-tracked":
        state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    saved = {
        "plain": state,
        "fastai": {"model": state},
        "fastai-with-opt": {
            "model": state,
            "opt": {"state": {}, "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.99)}]},
        },
        "no-batches-tracked": {"model": state},
    }[form]
    path = tmp_path / "gen.pth"
    torch.save(saved, path)
    predictor = DeOldifyPredictor(path, "cpu", **TINY.__dict__)
    for key, value in predictor.net.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(value, state[key]), key


def test_a_checkpoint_of_the_other_variant_is_refused_clearly(tmp_path) -> None:
    path = tmp_path / "gen.pth"
    torch.save({"model": build_generator(TINY).state_dict()}, path)
    with pytest.raises(WeightsInvalid, match="does not fit"):
        DeOldifyPredictor(path, "cpu", variant="artistic")


# --- Normalised convolutions --------------------------------------------------------------------


def test_spectral_norm_eval_is_the_hand_computation() -> None:
    conv = SpectralNormConv(2, 2, 1, bias=True)
    with torch.no_grad():
        conv.weight_orig.copy_(torch.tensor([[3.0, 0.0], [0.0, 1.0]]).view(2, 2, 1, 1))
        conv.bias.copy_(torch.tensor([0.5, -0.5]))
        conv.weight_u.copy_(torch.tensor([0.6, 0.8]))
        conv.weight_v.copy_(torch.tensor([0.8, 0.6]))
    conv.eval()
    # sigma = u . (W v) = 0.6 * 2.4 + 0.8 * 0.6 = 1.92, with the stored u, v as they are.
    x = torch.tensor([1.0, 2.0]).view(1, 2, 1, 1)
    expected = torch.tensor([3.0 * 1 / 1.92 + 0.5, 1.0 * 2 / 1.92 - 0.5])
    assert torch.allclose(conv(x).flatten(), expected, atol=1e-6)
    assert torch.equal(conv.weight_u, torch.tensor([0.6, 0.8]))  # eval never iterates


def test_spectral_norm_matches_torch_in_eval_and_training() -> None:
    torch.manual_seed(4)
    reference = nn.utils.spectral_norm(nn.Conv2d(5, 7, 3, padding=1, bias=True))
    ours = SpectralNormConv(5, 7, 3, bias=True)
    ours.load_state_dict(reference.state_dict())  # the same keys: weight_orig, bias, weight_u/v
    x = torch.randn(2, 5, 9, 9)
    for training in (False, True, True):
        reference.train(training)
        ours.train(training)
        assert torch.allclose(ours(x), reference(x), atol=1e-5)
        assert torch.allclose(ours.weight_u, reference.weight_u, atol=1e-6)
    # After training steps the largest singular value of the used weight is close to 1.
    ours.eval()
    assert torch.linalg.matrix_norm(ours.normalised_weight().flatten(1), ord=2) < 1.2


def test_weight_norm_matches_torch() -> None:
    torch.manual_seed(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch's old weight_norm is deprecated
        reference = nn.utils.weight_norm(nn.Conv2d(6, 8, 1))
    ours = WeightNormConv2d(6, 8)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(1, 6, 4, 4)
    assert torch.allclose(ours(x), reference(x), atol=1e-6)


# --- Forward passes and the pipeline ------------------------------------------------------------


@pytest.mark.parametrize("render_factor", [7, 10, 21])
def test_forward_shape_and_range(render_factor: int) -> None:
    torch.manual_seed(6)
    net = build_generator(TINY).eval()
    side = render_factor * 16
    with torch.no_grad():
        out = net(torch.randn(1, 3, side, side))
    assert out.shape == (1, 3, side, side)
    assert out.min() >= -3 and out.max() <= 3 and torch.isfinite(out).all()


def test_artistic_forward_at_the_smallest_render_factor(artistic: nn.Module) -> None:
    with torch.no_grad():
        out = artistic(torch.randn(1, 3, 112, 112))
    assert out.shape == (1, 3, 112, 112) and out.abs().max() <= 3


def test_colorize_keeps_the_photos_luma_and_size(deoldify_model: str) -> None:
    photo = make_photo(300, 140, mode="RGB", seed=7)  # not square: stretched, then back
    result = ml.colorize(photo, model=deoldify_model, render_factor=8)
    assert result.size == photo.size and result.mode == "RGB"
    rgb = np.asarray(result, dtype=np.float64) / 255.0
    luma = rgb @ YUV_FROM_RGB[0]
    gray = to_gray(photo)
    assert np.abs(luma - gray).max() <= 1.5 / 255  # Y kept, up to 8-bit rounding
    chroma = np.abs(rgb @ YUV_FROM_RGB[1:].T)
    assert chroma.mean() > 0.005  # the network added colour


def test_render_factor_changes_the_result_and_is_validated(deoldify_model: str) -> None:
    photo = make_photo(96, 64, seed=8)
    low = np.asarray(ml.colorize(photo, model=deoldify_model, render_factor=7), dtype=float)
    high = np.asarray(ml.colorize(photo, model=deoldify_model, render_factor=12), dtype=float)
    assert np.abs(low - high).mean() > 0.1
    for bad in (6, 46, "big"):
        with pytest.raises(InvalidParameters, match="Render factor"):
            ml.colorize(photo, model=deoldify_model, render_factor=bad)


def test_running_out_of_memory_is_a_clear_error(deoldify_weights_dir) -> None:
    """With the address space capped just above the loaded model, a large render factor cannot
    allocate its activations: a real allocation failure, reported as OutOfMemory."""
    script = textwrap.dedent(
        f"""
        import resource
        import ml
        from ml import runtime
        from ml.errors import OutOfMemory
        from tests.conftest import make_photo
        ml.configure(weights_dir={str(deoldify_weights_dir)!r}, device="cpu")
        runtime.load_predictor(ml.get_spec("deoldify-artistic"))
        ml.colorize(make_photo(32, 32), model="deoldify-artistic", render_factor=7)
        with open("/proc/self/status") as status:
            vm = next(int(l.split()[1]) for l in status if l.startswith("VmSize")) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + 300 * 2**20, resource.RLIM_INFINITY))
        try:
            ml.colorize(make_photo(32, 32), model="deoldify-artistic", render_factor=45)
        except OutOfMemory as exc:
            print("OOM:", exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert "OOM: DeOldify Artistic (official) ran out of memory" in done.stdout, done.stderr[-2000:]


def test_own_trained_weights_are_imported_by_loading_them(deoldify_weights_dir, tmp_path) -> None:
    """A file from Coloria's NoGAN pipeline installs as the Coloria-trained model (checked by
    loading it into the official architecture) and colorizes."""
    from ml.weights import install_command
    from ml.weights.install import import_file

    source = deoldify_weights_dir / "ColorizeArtistic_gen.pth"
    assert install_command("deoldify-artistic-coloria") == (
        "python manage.py import_weights deoldify-artistic-coloria.pth "
        "--model deoldify-artistic-coloria"
    )
    installed = import_file(source, "deoldify-artistic-coloria", dest_dir=tmp_path)
    assert installed.name == "deoldify-artistic-coloria.pth"
    ml.configure(weights_dir=tmp_path)
    result = ml.colorize(make_photo(64, 48), model="deoldify-artistic-coloria", render_factor=7)
    assert result.size == (64, 48)
    with pytest.raises(Exception, match="cannot be used"):
        bad = tmp_path / "wrong.pth"
        torch.save({"model": build_generator(TINY).state_dict()}, bad)
        import_file(bad, "deoldify-stable-coloria", dest_dir=tmp_path / "other")
