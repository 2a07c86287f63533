"""The toy family's weights, model and record."""

from ml.registry import Family, ModelSpec, ParamSpec, register, register_family
from ml.weights import WeightFile, register_weights

register_family(
    Family(
        key="toy",
        title="Toy colorizer",
        summary="A tiny convolutional network, to show what a model family is made of.",
        architecture="Three convolutions from lightness to a and b.",
        training="L1 on a and b, on any folder of colour photos.",
        strengths=("Instant.",),
        weaknesses=("Knows nothing.",),
        order=900,
        trainer="tests.toy_family.train:ToyTraining",
        random_weights="tests.toy_family.model:random_weights",
    )
)
register_weights(
    WeightFile(key="toy", filename="toy.pth", network="toy", licence="MIT", official=False)
)
register(
    ModelSpec(
        key="toy-slow",
        family="toy",
        name="Toy (slow on request)",
        hint="A tiny network that takes as long as it is asked to",
        description="The toy family's network; `seconds` makes each run last that long.",
        predictor="tests.toy_family.model:ToyPredictor",
        weights="toy",
        params=(
            ParamSpec(
                name="seconds", kind="float", default=0.0, label="Seconds", min=0.0, max=120.0
            ),
        ),
    )
)
