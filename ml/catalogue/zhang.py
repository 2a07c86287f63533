"""Zhang et al.'s networks: ECCV16 (Colorful Image Colorization) and SIGGRAPH17 (colour hints),
official and trained by Coloria."""

from dataclasses import replace

from ml.registry import Family, ModelSpec, ParamSpec, register, register_family
from ml.weights import WeightFile, register_weights

register_family(
    Family(
        key="zhang",
        title="Zhang et al. (ECCV16, SIGGRAPH17)",
        summary=(
            "Richard Zhang's colorization networks from UC Berkeley: the classic classification "
            "approach, and its user-guided successor that takes colour hints."
        ),
        architecture=(
            "ECCV16 is a VGG-style stack of 3×3 convolutions with dilated layers in the middle. "
            "It looks at the lightness channel (L) at 256×256 and predicts, for every pixel, a "
            "probability over 313 quantised colours of the ab plane; the colour is the annealed "
            "mean of that distribution. SIGGRAPH17 is a U-Net that also takes sparse colour "
            "points and a mask, and regresses ab directly."
        ),
        training=(
            "About 1.3 million ImageNet photos turned grey. ECCV16 uses a cross-entropy loss "
            "with class rebalancing, so rare saturated colours are not drowned out by brown and "
            "grey; SIGGRAPH17 adds randomly sampled hints during training so the network learns "
            "to spread them."
        ),
        strengths=(
            "Fast: one forward pass at 256×256, then the colour is scaled back up.",
            "Bold colour where the network is confident (skies, grass, skin).",
            "SIGGRAPH17 lets you steer the result with a few colour points.",
        ),
        weaknesses=(
            "Colour bleeds across edges and can look blotchy.",
            "Low colour resolution: fine details take the colour of their surroundings.",
        ),
        order=10,
        trainer="ml.train.zhang:ZhangTraining",
        random_weights="ml.models.zhang:random_weights",
    )
)

register_weights(
    WeightFile(
        key="zhang-eccv16",
        filename="colorization_release_v2-9b330a0b.pth",
        network="zhang-eccv16",
        licence="BSD-2-Clause",
        urls=(
            "https://colorizers.s3.us-east-2.amazonaws.com/colorization_release_v2-9b330a0b.pth",
        ),
        size=128976165,
        sha256="9b330a0bae53f4ded77b1e23defbf78beaa09c10ebc4c4999e8e4f4a160b93f9",
    )
)
register_weights(
    WeightFile(
        key="zhang-siggraph17",
        filename="siggraph17-df00044c.pth",
        network="zhang-siggraph17",
        licence="BSD-2-Clause",
        urls=("https://colorizers.s3.us-east-2.amazonaws.com/siggraph17-df00044c.pth",),
        size=136787426,
        sha256="df00044c0a4d7c3edcecf6f75437ce346a66e7a42612d9b968e1a7e17dbc6f66",
    )
)

# The softmax temperature over the 313 colour bins, shown as a colour-strength slider. Which end is
# the bolder one depends on the weights, so each model declares its own words.
TEMPERATURE = ParamSpec(
    name="temperature",
    kind="float",
    default=1.0,
    label="Colour strength",
    help="How the predicted colours are mixed: 1 is the official release's mean of the likely "
    "colours; lower moves towards the single likeliest colour (0.38 is the paper's annealed "
    "mean), which the paper finds more vivid, and sometimes blotchy.",
    min=0.1,
    max=1.0,
    ends=("vivid, may be blotchy", "calm, even"),
    colourful_end="min",
)
# Measured on the shipped weights (scikit-image's sample photos, mean chroma): 7-9 at 0.1, 10-22
# at 1.0; their likeliest colours are muted ones (tests/ml/test_shipped.py).
TEMPERATURE_COLORIA = replace(
    TEMPERATURE,
    help="How the predicted colours are mixed: 1 averages the likely colours, lower moves "
    "towards the single likeliest one. With the weights Coloria trained, the average is the "
    "more colourful (mean chroma 10-22 at 1.0 against 7-9 at 0.1 on sample photos).",
    ends=("muted", "more colourful"),
    colourful_end="max",
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
        short_name="Colorful (Zhang 2016)",
        character="saturated, fast",
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
        short_name="Colour hints (Zhang 2017)",
        character="you place colour points",
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
        short_name="Colorful, Coloria-trained",
        character="muted, fast",
        family="zhang",
        name="Zhang ECCV16 (Coloria-trained)",
        hint="Small offline model trained by Coloria: muted, mostly plausible colour",
        description=(
            "The ECCV16 network at a quarter of its width (2 million parameters, the official "
            "layer names with smaller shapes), trained by Coloria's own pipeline "
            "(python -m ml.train zhang) on the offline photo set in two stages: 313 soft-encoded "
            "colour bins with class-rebalanced cross-entropy, then a fine-tune on the CIEDE2000 "
            "difference itself with a floor on colourfulness; random crops and flips. It ships "
            "with Coloria, so a fresh install colorizes without downloading anything; its card "
            "in ml/shipped/ gives its data, recipe and validation figures."
        ),
        predictor="ml.models.zhang:ZhangPredictor",
        weights="zhang-eccv16-coloria",
        official=False,
        params=(TEMPERATURE_COLORIA,),
        options={"network": "eccv16", "width": 0.25},
    )
)
