"""The study's own CNN (TensorFlow/Keras), trained by Coloria."""

from ml.registry import Family, ModelSpec, register, register_family
from ml.weights import WeightFile, register_weights

register_family(
    Family(
        key="cnn",
        title="The study's CNN",
        summary=(
            "The small convolutional network the original study built and trained itself in "
            "TensorFlow/Keras, retrained by Coloria."
        ),
        architecture=(
            "A U-Net: an encoder halves a 160×160 grey image five times (128 → 512 filters, "
            "LeakyReLU, batch normalisation) and a decoder doubles it back with transposed "
            "convolutions, joined at each scale to the encoder and finally to the input. It "
            "predicts RGB; Coloria keeps only its colour."
        ),
        training=(
            "Mean absolute error between predicted and true RGB on colour photos made grey. "
            "Coloria's pipeline trains it from scratch on an openly licensed photo set."
        ),
        strengths=(
            "Small and quick, even on a CPU.",
            "Gentle colours, rarely garish.",
        ),
        weaknesses=(
            ("A plain regression loss pulls colours towards the average: often brownish or dull."),
            "Works at 160×160, so colour is coarse on large photos.",
        ),
        study_delta_e00=9.42,
        order=20,
        trainer="ml.train.keras_cnn:CNNTraining",
    )
)

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
        short_name="The study's CNN",
        character="gentle, very fast",
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
