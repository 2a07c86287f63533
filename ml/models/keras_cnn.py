"""The study's own "CNN": a small Keras U-Net that maps a gray photo to RGB at 160 x 160.

As the study's report describes it:

* input 160 x 160 x 3: the gray photo replicated into three channels, scaled to [0, 1];
* encoder down(128, no BN), down(128, no BN), down(256), down(512), down(512), each a Conv2D with
  stride 2 and 'same' padding, optional BatchNormalization, then LeakyReLU (160 -> 5 pixels);
* decoder up(512), up(256), up(128), up(128), up(3), each a Conv2DTranspose with stride 2 and
  'same' padding then LeakyReLU, concatenated with the encoder output of the same resolution;
  the last one (160 x 160 x 3) is concatenated with the input (160 x 160 x 6);
* a final Conv2D(3, (2, 2), 'same') gives RGB in [0, 1]; MAE loss, Adam with learning rate 1e-3;
  saved in Keras' native `.keras` format.

Readings where the report is silent (kept here so that they are decided once):

* Kernel size: the report gives 3 for the first down block only; every down and up block uses
  3 x 3, the usual size for this design and the only one the report names.
* LeakyReLU keeps Keras' default slope of 0.3, which is what `LeakyReLU()` gives in the study's
  framework; no slope is reported.
* The final Conv2D is linear (no activation). The report names none, and a linear head trained
  with MAE on [0, 1] targets needs no squashing: a sigmoid would only slow learning near black
  and white, which old photos are full of. Predictions are clipped to [0, 1] before the colour
  conversion, so an occasional overshoot cannot produce impossible colours.

At inference the network's RGB is converted to Lab and only its a, b are kept: the shared
pipeline (`ml.color.compose`) joins them to the photo's own full-resolution lightness, exactly as
for every other model.

TensorFlow is imported inside functions only, so importing this module (or listing models) never
loads TensorFlow into the web process; `configure_tensorflow` runs before TensorFlow's first use
so that it shares a worker process with PyTorch politely (see its docstring).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ml import inference
from ml.color import LUMA, Chroma, linear_to_srgb, rgb_to_lab, srgb_to_linear
from ml.errors import WeightsInvalid

if TYPE_CHECKING:
    import keras

log = logging.getLogger(__name__)

SIZE = 160  # the network's fixed working size (five stride-2 steps: 160 -> 5)
KERNEL = 3
LEAKY_SLOPE = 0.3  # keras.layers.LeakyReLU's default
LEARNING_RATE = 1e-3
# (filters, batch-normalised?) of the encoder blocks, and the filters of the decoder blocks.
ENCODER = ((128, False), (128, False), (256, True), (512, True), (512, True))
DECODER = (512, 256, 128, 128, 3)

THREADS_ENV = "COLORIA_TF_THREADS"

_configure_lock = threading.Lock()
_configured = False


# --- TensorFlow set-up -------------------------------------------------------------------------


def default_threads() -> int:
    """TensorFlow's share of the CPU: COLORIA_TF_THREADS, else half the cores (at least one)."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if raw:
        try:
            threads = int(raw)
        except ValueError:
            threads = 0
        if threads < 1:
            raise ValueError(f"{THREADS_ENV} must be a positive integer, not {raw!r}")
        return threads
    return max(1, (os.cpu_count() or 1) // 2)


def _load_triton_first() -> None:
    """Import Triton (PyTorch's kernel compiler) before TensorFlow when it is installed.

    Both bundle their own LLVM; with TensorFlow loaded first, Triton's native module crashes the
    process (segmentation fault) when PyTorch later imports it, which it does when an optimiser
    is created or a model compiled. Loaded in this order, both work in one worker process.
    """
    # Absent or unusable Triton: PyTorch then never imports it either.
    with contextlib.suppress(Exception):
        import triton  # noqa: F401


def configure_tensorflow(threads: int | None = None) -> None:
    """Set TensorFlow up to share a worker process with PyTorch; called before TF's first use.

    * Threads: TensorFlow otherwise sizes both of its thread pools to every core, on top of
      PyTorch's own pool of every core, so a worker that has run both models oversubscribes the
      CPU. TensorFlow gets `threads` (default `default_threads()`) intra-op threads and at most
      two inter-op threads: this network is a chain of layers with little to run side by side,
      and two (rather than one) avoids the stalls TF can hit when an op waits on another op.
    * GPU memory: TensorFlow by default reserves nearly all GPU memory on its first GPU op,
      leaving none for PyTorch's models in the same process. Memory growth is switched on for
      every GPU (allocate as needed), and TF_FORCE_GPU_ALLOW_GROWTH=true is also set in the
      environment, which TF reads when it creates a GPU device, as a second line of defence
      for devices that were set up before this ran.

    Both settings are fixed once TensorFlow's runtime has started; if something else started it
    first, a warning is logged and TensorFlow runs with whatever it has. Safe to call repeatedly
    and from several threads: only the first call does anything.
    """
    global _configured
    with _configure_lock:
        if _configured:
            return
        # Must be in the environment before TF creates its GPU devices, so before the import.
        os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
        _load_triton_first()
        import tensorflow as tf

        intra = threads if threads is not None else default_threads()
        if intra < 1:
            raise ValueError(f"TensorFlow needs at least one thread, not {intra}")
        inter = min(2, intra)
        try:
            tf.config.threading.set_intra_op_parallelism_threads(intra)
            tf.config.threading.set_inter_op_parallelism_threads(inter)
        except RuntimeError as exc:  # the runtime is already initialised
            log.warning("TensorFlow threads could not be set (%s); keeping its own.", exc)
        try:
            for gpu in tf.config.list_physical_devices("GPU"):
                tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError as exc:  # the GPUs are already initialised
            log.warning("TensorFlow GPU memory growth could not be set (%s).", exc)
        _configured = True


def _tensorflow() -> Any:
    """The `tensorflow` module, configured; every TF use in this module goes through here."""
    configure_tensorflow()
    import tensorflow as tf

    return tf


def _keras() -> Any:
    configure_tensorflow()
    import keras

    return keras


def tf_device(device: str) -> str:
    """The TensorFlow device name for a Coloria device ('cpu', 'cuda' or 'cuda:N').

    Falls back to the CPU when TensorFlow sees no GPU (e.g. a TF build without CUDA beside a
    CUDA PyTorch, which is what decided that the worker has a GPU).
    """
    tf = _tensorflow()
    if device.startswith("cuda"):
        index = device.partition(":")[2] or "0"
        if any(d.name.endswith(f"GPU:{index}") for d in tf.config.list_logical_devices("GPU")):
            return f"/GPU:{index}"
        log.warning("TensorFlow sees no GPU %s; running the Keras CNN on the CPU.", index)
    return "/CPU:0"


# --- The network -------------------------------------------------------------------------------


def build_model() -> keras.Model:
    """The study's U-Net, untrained: (N, 160, 160, 3) gray-as-RGB in [0, 1] -> (N, 160, 160, 3)."""
    keras = _keras()
    layers = keras.layers

    inputs = keras.Input(shape=(SIZE, SIZE, 3), name="gray_rgb")
    skips = []
    x = inputs
    for i, (filters, batch_norm) in enumerate(ENCODER, start=1):
        x = layers.Conv2D(filters, KERNEL, strides=2, padding="same", name=f"down{i}_conv")(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"down{i}_bn")(x)
        x = layers.LeakyReLU(LEAKY_SLOPE, name=f"down{i}_act")(x)
        skips.append(x)

    # Decoder block i doubles the resolution and is joined with the encoder output that has the
    # same resolution (down4 ... down1), and the last one with the input itself.
    targets = [*reversed(skips[:-1]), inputs]
    for i, (filters, skip) in enumerate(zip(DECODER, targets, strict=True), start=1):
        up = layers.Conv2DTranspose(filters, KERNEL, strides=2, padding="same", name=f"up{i}_conv")
        x = layers.LeakyReLU(LEAKY_SLOPE, name=f"up{i}_act")(up(x))
        x = layers.Concatenate(name=f"up{i}_skip")([x, skip])

    # Linear head: see the module docstring for why there is no output activation.
    outputs = layers.Conv2D(3, (2, 2), strides=1, padding="same", name="rgb")(x)
    return keras.Model(inputs=inputs, outputs=outputs, name="coloria_cnn")


def compile_model(model: keras.Model) -> keras.Model:
    """Compile for training as the study did: mean absolute error, Adam at 1e-3."""
    keras = _keras()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE), loss="mean_absolute_error"
    )
    return model


# --- Inputs ------------------------------------------------------------------------------------


def rgb_to_gray(images: np.ndarray) -> np.ndarray:
    """sRGB gray values of colour images (..., 3) in [0, 1], as `ml.color.to_gray` computes them.

    Training must see the same gray that inference gets from the shared pipeline, or the
    network learns on inputs it will never be given.
    """
    luminance = srgb_to_linear(np.asarray(images, dtype=np.float32)) @ LUMA
    return linear_to_srgb(np.clip(luminance, 0.0, 1.0))


def working_gray(gray: np.ndarray) -> np.ndarray:
    """A gray photo (H, W) in [0, 1] resized to 160 x 160, float32.

    The whole frame is squeezed into the square (as the study prepared its data); the chroma is
    stretched back to the photo's shape by the shared pipeline. PIL's bilinear filter widens
    with the reduction, so large photos are averaged rather than aliased.
    """
    image = Image.fromarray(np.ascontiguousarray(gray, dtype=np.float32))  # mode "F"
    small = image.resize((SIZE, SIZE), resample=Image.Resampling.BILINEAR)
    return np.clip(np.asarray(small, dtype=np.float32), 0.0, 1.0)


def network_input(gray: np.ndarray) -> np.ndarray:
    """Gray values (..., 160, 160) -> the network's input (..., 160, 160, 3): gray replicated."""
    gray = np.asarray(gray, dtype=np.float32)
    return np.repeat(gray[..., None], 3, axis=-1)


# --- Training ----------------------------------------------------------------------------------


def train_steps(
    model: keras.Model, images: np.ndarray, steps: int, batch_size: int = 16
) -> list[float]:
    """Train `steps` optimiser steps on colour images (N, 160, 160, 3) in [0, 1]; the losses.

    The input is each image's gray replicated to three channels and the target the image itself.
    Batches are taken in order and wrap around, so a call is deterministic given the model's
    state; shuffling is the caller's business. The model is compiled first if it is not.
    Each loss is the batch's MAE before that step's update (what Keras reports).
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1:] != (SIZE, SIZE, 3):
        raise ValueError(f"images must have shape (N, {SIZE}, {SIZE}, 3), not {images.shape}")
    if len(images) == 0 or batch_size < 1 or steps < 0:
        raise ValueError("need at least one image, a positive batch size and steps >= 0")
    if not model.compiled:
        compile_model(model)
    losses = []
    for step in range(steps):
        index = (step * batch_size + np.arange(batch_size)) % len(images)
        target = images[index]
        loss = model.train_on_batch(network_input(rgb_to_gray(target)), target)
        if isinstance(loss, list | tuple):  # compiled with extra metrics: the loss comes first
            loss = loss[0]
        losses.append(float(loss))
    return losses


# --- Inference ---------------------------------------------------------------------------------


class KerasCNNPredictor:
    """Loads a `.keras` file of the study's CNN once and predicts chroma at 160 x 160."""

    def __init__(self, weights: Path, device: str, **options: Any) -> None:
        tf = _tensorflow()
        keras = _keras()
        self.device = tf_device(device)
        # One prediction at a time per model: TF already spreads one over its threads, and
        # Keras' lazily built predict machinery is not meant to be raced.
        self._lock = threading.Lock()
        try:
            with tf.device(self.device):
                # compile=False: inference needs no optimizer, and it loads faster without one.
                self.model = keras.models.load_model(Path(weights), compile=False)
        except Exception as exc:
            raise WeightsInvalid(
                f"{Path(weights).name} is not a readable Keras model ({exc})."
            ) from exc
        shapes = (tuple(self.model.input_shape), tuple(self.model.output_shape))
        if shapes != ((None, SIZE, SIZE, 3), (None, SIZE, SIZE, 3)):
            raise WeightsInvalid(
                f"{Path(weights).name} does not fit this network: input and output shapes "
                f"{shapes[0]} and {shapes[1]}, expected (None, {SIZE}, {SIZE}, 3)."
            )
        self.use_inference("exact")

    def use_inference(self, mode: str) -> None:
        """`exact`: the Keras model called eagerly, as trained. `fast` (ml.inference): the same
        call as one TensorFlow graph for the one input shape there is, traced once (about 0.4x
        the eager time on a CPU, and the same numbers: TF runs the same kernels)."""
        tf = _tensorflow()

        def call(batch: Any) -> Any:
            return self.model(batch, training=False)

        if mode == "fast":
            shape = tf.TensorSpec((1, SIZE, SIZE, 3), tf.float32)
            self._call = tf.function(call, input_signature=[shape])
            self.inference_label = "fast (float32, tf.function)"
        else:
            self._call = call
            self.inference_label = inference.EXACT_LABEL

    def predict(self, gray: np.ndarray, **_: Any) -> Chroma:
        """Lab a, b (160, 160, 2) of the network's RGB for a gray photo (H, W) in [0, 1]."""
        tf = _tensorflow()
        batch = network_input(working_gray(gray))[None]
        try:
            with self._lock, tf.device(self.device):
                rgb = self._call(batch)
        except tf.errors.ResourceExhaustedError as exc:
            # ml.colorize turns MemoryError into its user-facing OutOfMemory error.
            raise MemoryError(str(exc)) from exc
        rgb = np.clip(np.asarray(rgb, dtype=np.float32)[0], 0.0, 1.0)
        return Chroma(ab=np.ascontiguousarray(rgb_to_lab(rgb)[..., 1:]))
