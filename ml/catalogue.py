"""The built-in models. Each entry names its network code and its weights; see ml.registry."""

from ml.registry import ModelSpec, ParamSpec, register
from ml.weights import WeightFile, register_weights

TEMPERATURE = ParamSpec(
    name="temperature",
    kind="float",
    default=1.0,
    label="Colour temperature",
    help="Softmax temperature over the 313 colour bins: 1 is the official release, "
    "lower (e.g. 0.38, the paper's annealed mean) gives bolder colour.",
    min=0.1,
    max=1.0,
)
HINTS = ParamSpec(
    name="hints",
    kind="hints",
    default=(),
    label="Colour hints",
    help="Points (x, y in image pixels) with the colour they should have.",
)

register(
    ModelSpec(
        key="zhang-eccv16",
        family="zhang",
        name="Zhang ECCV16 (official)",
        hint="Colorful Image Colorization: fast, saturated, sometimes blotchy",
        description=(
            "Rich Zhang, Phillip Isola and Alexei Efros's 'Colorful Image Colorization' "
            "(ECCV 2016). A VGG-style network predicts, for every pixel, a distribution over "
            "313 colour bins, "
            "trained with class rebalancing so rare vivid colours are not washed out. "
            "Official weights trained on 1.3 million ImageNet photos."
        ),
        predictor="ml.models.zhang:ZhangPredictor",
        weights="zhang-eccv16",
        official=True,
        params=(TEMPERATURE,),
        options={"network": "eccv16"},
    )
)
register(
    ModelSpec(
        key="zhang-siggraph17",
        family="zhang",
        name="Zhang SIGGRAPH17 (official, colour hints)",
        hint="User-guided: place colour points to steer the result",
        description=(
            "Zhang et al., 'Real-Time User-Guided Image Colorization with Learned Deep Priors' "
            "(SIGGRAPH 2017). A U-Net that regresses colour directly and accepts colour hints: "
            "click a spot, choose its colour and the network spreads it along plausible edges."
        ),
        predictor="ml.models.zhang:ZhangPredictor",
        weights="zhang-siggraph17",
        official=True,
        params=(HINTS,),
        options={"network": "siggraph17"},
    )
)

# --- Zhang ECCV16 trained by Coloria (the study's "own-trained" CNN row) ----------------------

register_weights(
    WeightFile(
        key="zhang-eccv16-coloria",
        filename="zhang-eccv16-coloria.pth",
        network="zhang-eccv16",
        licence="MIT",
        official=False,
        sha256=None,  # own-trained: checked by loading it
    )
)
register(
    ModelSpec(
        key="zhang-eccv16-coloria",
        family="zhang",
        name="Zhang ECCV16 (Coloria-trained)",
        hint="Small offline model trained by Coloria: muted, mostly plausible colour",
        description=(
            "The ECCV16 network at a quarter of its width (2 million parameters, the official "
            "layer names with smaller shapes), trained by Coloria's own pipeline "
            "(python -m ml.train zhang) on the offline photo set: 313 soft-encoded colour bins, "
            "class-rebalanced cross-entropy, random crops and flips. It ships with Coloria, so "
            "a fresh install colorizes without downloading anything; its card in ml/shipped/ "
            "gives its data, recipe and validation figures."
        ),
        predictor="ml.models.zhang:ZhangPredictor",
        weights="zhang-eccv16-coloria",
        official=False,
        params=(TEMPERATURE,),
        options={"network": "eccv16", "width": 0.25},
    )
)

# --- The study's own CNN (TensorFlow/Keras), trained by Coloria -------------------------------

register_weights(
    WeightFile(
        key="cnn-coloria",
        filename="cnn-coloria.keras",
        network="keras-cnn",
        licence="MIT",
        official=False,
        sha256=None,  # own-trained: checked by loading it
    )
)
register(
    ModelSpec(
        key="cnn-coloria",
        family="cnn",
        name="CNN (Coloria-trained)",
        hint="The study's small U-Net: quick, gentle colours at 160 x 160",
        description=(
            "The study's own convolutional network, built in TensorFlow/Keras: a U-Net whose "
            "encoder halves a 160 x 160 gray image five times (128, 128, 256, 512, 512 filters, "
            "LeakyReLU, batch normalisation in the deeper three) and whose decoder doubles it back "
            "with transposed convolutions, joining each step to the encoder output of the same "
            "size and finally to the input. It predicts RGB, trained with mean absolute error; "
            "Coloria keeps only its colour and the photo's own lightness."
        ),
        predictor="ml.models.keras_cnn:KerasCNNPredictor",
        weights="cnn-coloria",
    )
)
