"""A toy model that says it needs a GPU (the toy network again): for the tests of the GPU queue.
Loaded as an extra catalogue after tests.toy_family.catalogue, whose weights it uses."""

from ml.registry import ModelSpec, register

register(
    ModelSpec(
        key="toy-gpu",
        family="toy",
        name="Toy (on the GPU queue)",
        hint="The toy network, sent to GPU workers",
        description="The toy family's network, marked as a model that needs a GPU.",
        predictor="tests.toy_family.model:ToyPredictor",
        weights="toy",
        needs_gpu=True,
    )
)
