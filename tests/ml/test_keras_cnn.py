"""The study's Keras CNN: its structure, training, saving, inference and its manners in a worker.

Every network here has random (or two-steps-trained) weights: a real network computing whatever
those weights compute, which is all these tests need.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from skimage.color import rgb2lab

import ml
from ml.errors import WeightsInvalid
from ml.models import keras_cnn
from tests.conftest import make_photo

REPO = Path(__file__).resolve().parents[2]


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter at the repository root (a clean sys.modules)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def colour_images(count: int, seed: int = 0) -> np.ndarray:
    """Smooth colour gradients with a little noise, (count, 160, 160, 3) float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:160, 0:160] / 160.0
    images = []
    for k in range(count):
        red = 0.3 + 0.5 * x * (k + 1) / count
        green = 0.6 - 0.3 * y
        blue = np.full_like(x, 0.2 + 0.6 * k / count)
        image = np.stack([red, green, blue], axis=-1) + rng.normal(0, 0.02, (160, 160, 3))
        images.append(np.clip(image, 0, 1))
    return np.stack(images).astype(np.float32)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight model saved under the catalogue's filename, in its own weights dir.

    Saved uncompiled: an optimizer that never stepped has no state worth saving (and Keras warns
    when it later loads such a stub into a model that has trained).
    """
    import keras

    keras.utils.set_random_seed(0)
    model = keras_cnn.build_model()
    path = tmp_path_factory.mktemp("cnn_weights") / "cnn-coloria.keras"
    model.save(path)
    return path


# --- Without TensorFlow ------------------------------------------------------------------------


def test_importing_the_module_and_listing_models_does_not_import_tensorflow():
    result = run_python(
        """
        import sys
        import ml
        import ml.models.keras_cnn
        spec = ml.get_spec("cnn-coloria")
        assert spec in ml.list_models()
        loaded = sorted(name for name in ("tensorflow", "keras") if name in sys.modules)
        print("loaded:", loaded)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout


def test_catalogue_entry_names_the_predictor_and_own_weights():
    from ml.weights import KNOWN_WEIGHTS

    spec = ml.get_spec("cnn-coloria")
    assert (spec.family, spec.name, spec.weights) == ("cnn", "CNN (Coloria-trained)", "cnn-coloria")
    assert spec.predictor == "ml.models.keras_cnn:KerasCNNPredictor"
    assert spec.params == () and not spec.official
    entry = KNOWN_WEIGHTS["cnn-coloria"]
    assert (entry.filename, entry.network, entry.licence) == (
        "cnn-coloria.keras",
        "keras-cnn",
        "MIT",
    )
    assert entry.sha256 is None and not entry.official


def test_tensorflow_threads_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("COLORIA_TF_THREADS", "3")
    assert keras_cnn.default_threads() == 3
    monkeypatch.delenv("COLORIA_TF_THREADS")
    assert keras_cnn.default_threads() == max(1, (os.cpu_count() or 1) // 2)
    for bad in ("0", "-2", "many"):
        monkeypatch.setenv("COLORIA_TF_THREADS", bad)
        with pytest.raises(ValueError, match="COLORIA_TF_THREADS"):
            keras_cnn.default_threads()


# --- The network -------------------------------------------------------------------------------


def test_model_has_the_reported_structure():
    model = keras_cnn.build_model()
    assert tuple(model.input_shape) == (None, 160, 160, 3)
    assert tuple(model.output_shape) == (None, 160, 160, 3)

    kinds = Counter(type(layer).__name__ for layer in model.layers)
    assert kinds["Conv2D"] == 6  # five down blocks and the final 2x2 convolution
    assert kinds["Conv2DTranspose"] == 5
    assert kinds["BatchNormalization"] == 3
    assert kinds["LeakyReLU"] == 10
    assert kinds["Concatenate"] == 5

    layers = {layer.name: layer for layer in model.layers}
    # Batch normalisation only in the three deeper down blocks.
    assert sorted(n for n in layers if n.endswith("_bn")) == ["down3_bn", "down4_bn", "down5_bn"]
    downs = [layers[f"down{i}_conv"] for i in range(1, 6)]
    ups = [layers[f"up{i}_conv"] for i in range(1, 6)]
    assert [layer.filters for layer in downs] == [128, 128, 256, 512, 512]
    assert [layer.filters for layer in ups] == [512, 256, 128, 128, 3]
    for layer in downs + ups:
        assert tuple(layer.kernel_size) == (3, 3)
        assert tuple(layer.strides) == (2, 2)
        assert layer.padding == "same"
    # Each up block joins the encoder output of its resolution, the last one the input.
    skips = [tuple(layers[f"up{i}_skip"].output.shape[1:]) for i in range(1, 6)]
    assert skips == [(10, 10, 1024), (20, 20, 512), (40, 40, 256), (80, 80, 256), (160, 160, 6)]
    head = layers["rgb"]
    assert tuple(head.kernel_size) == (2, 2) and head.padding == "same" and head.filters == 3
    assert model.layers[-1] is head


def test_two_training_steps_lower_the_loss():
    import keras

    keras.utils.set_random_seed(1)
    model = keras_cnn.compile_model(keras_cnn.build_model())
    assert type(model.optimizer).__name__ == "Adam"
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)

    images = colour_images(2)
    inputs = keras_cnn.network_input(keras_cnn.rgb_to_gray(images))
    before = model.evaluate(inputs, images, batch_size=2, verbose=0)
    losses = keras_cnn.train_steps(model, images, steps=2, batch_size=2)  # the same batch twice
    after = model.evaluate(inputs, images, batch_size=2, verbose=0)

    assert len(losses) == 2 and all(np.isfinite(losses))
    assert losses[1] < losses[0]
    assert after < before


def test_train_steps_refuses_images_of_the_wrong_shape():
    model = keras_cnn.build_model()
    with pytest.raises(ValueError, match="160"):
        keras_cnn.train_steps(model, np.zeros((2, 64, 64, 3), np.float32), steps=1)


def test_saved_model_reloads_with_identical_outputs(saved_model, tmp_path):
    import keras

    model = keras.models.load_model(saved_model)
    assert not model.compiled  # train_steps compiles it
    # One step, so that BatchNorm's moving statistics and Adam's state are not at their defaults.
    keras_cnn.train_steps(model, colour_images(2, seed=3), steps=1, batch_size=2)
    path = tmp_path / "trained.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)

    inputs = keras_cnn.network_input(keras_cnn.rgb_to_gray(colour_images(2, seed=4)))
    np.testing.assert_array_equal(
        np.asarray(reloaded(inputs, training=False)), np.asarray(model(inputs, training=False))
    )
    # The optimizer comes back too, with its state, so training can resume from the file.
    assert reloaded.loss == "mean_absolute_error"
    assert int(reloaded.optimizer.iterations) == 1


# --- Inference ---------------------------------------------------------------------------------


def test_predictor_gives_chroma_at_working_size(saved_model):
    predictor = keras_cnn.KerasCNNPredictor(saved_model, "cpu")
    gray = np.asarray(make_photo(90, 50, mode="L"), dtype=np.float32) / 255.0
    chroma = predictor.predict(gray)
    assert chroma.ab.shape == (160, 160, 2)
    assert chroma.ab.dtype == np.float32
    assert np.isfinite(chroma.ab).all()
    assert np.abs(chroma.ab).max() <= 128


def test_colorize_keeps_the_input_size_and_lightness(saved_model):
    ml.configure(weights_dir=saved_model.parent)
    photo = make_photo(123, 77, mode="L", seed=5)

    result = ml.colorize(photo, model="cnn-coloria", device="cpu")

    assert result.size == photo.size and result.mode == "RGB"
    lab_out = rgb2lab(np.asarray(result, dtype=np.float64) / 255.0)
    lab_in = rgb2lab(np.asarray(photo.convert("RGB"), dtype=np.float64) / 255.0)
    assert np.abs(lab_out[..., 0] - lab_in[..., 0]).max() <= 1.0
    # The colour really comes from the network: a random network is not neutral gray.
    assert np.abs(lab_out[..., 1:]).max() > 1.0


def test_unreadable_weights_are_reported(tmp_path):
    path = tmp_path / "cnn-coloria.keras"
    path.write_bytes(b"not a keras archive")
    with pytest.raises(WeightsInvalid, match=r"cnn-coloria\.keras"):
        keras_cnn.KerasCNNPredictor(path, "cpu")


def test_tensorflow_and_torch_share_one_process():
    """Torch first (as in a worker that already ran a Zhang model), then TF, then torch again."""
    result = run_python(
        """
        import os
        import numpy as np
        import torch

        conv = torch.nn.Conv2d(3, 8, 3)
        torch_threads = torch.get_num_threads()
        first = conv(torch.ones(1, 3, 32, 32))

        from ml.models import keras_cnn
        model = keras_cnn.build_model()
        import tensorflow as tf

        out = model(np.zeros((1, 160, 160, 3), np.float32), training=False)
        assert out.shape == (1, 160, 160, 3)
        assert tf.config.threading.get_intra_op_parallelism_threads() == 1
        assert tf.config.threading.get_inter_op_parallelism_threads() == 1
        assert os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
        for gpu in tf.config.list_physical_devices("GPU"):
            assert tf.config.experimental.get_memory_growth(gpu)

        assert torch.equal(conv(torch.ones(1, 3, 32, 32)), first)
        assert torch.get_num_threads() == torch_threads
        print("shared")
        """,
        COLORIA_TF_THREADS="1",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "shared" in result.stdout


def test_pytorch_training_still_works_after_tensorflow_in_one_process():
    """TensorFlow, then a PyTorch optimiser (which imports Triton): this once crashed."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "from ml.models import keras_cnn; keras_cnn.build_model(); import torch; "
        "torch.optim.Adam([torch.zeros(1, requires_grad=True)]); print('both work')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "both work" in done.stdout
