"""BigColor (Kim et al., ECCV 2022): an encoder feeding BigGAN's generative colour prior."""

from ml.registry import Family, ModelSpec, ParamSpec, register, register_family
from ml.weights import WeightFile, register_weights

register_family(
    Family(
        key="bigcolor",
        title="BigColor",
        summary=(
            "Geonung Kim and colleagues' BigColor (ECCV 2022): colour from the generative prior "
            "of BigGAN, an image generator trained on ImageNet."
        ),
        architecture=(
            "An encoder of five class-conditional residual blocks reads the grey photo (short "
            "side 256) into 768 feature channels at 1/16 of its size. Those features replace "
            "the first two blocks of a BigGAN-256 generator, whose four remaining up-sampling "
            "blocks (with self-attention at 64 px) paint an RGB image. Both are conditioned on "
            "one of ImageNet's 1000 classes through BigGAN's shared class embedding, and the "
            "generator also draws a random latent z, so one photo has many plausible colorings. "
            "Coloria keeps the photo's own lightness and takes only the colour. 105 million "
            "parameters (encoder 23.1 M, generator 82.1 M)."
        ),
        training=(
            "The study fine-tuned encoder and generator together for 10 days on ImageNet 256 px "
            "crops (photos with little colour left out), starting from the pretrained BigGAN: "
            "pixel MSE ×1, VGG16 feature loss ×0.2 and a hinge adversarial loss ×0.03 against "
            "BigGAN's projection discriminator, Adam (β 0, 0.999) at 1e-4 for the networks and "
            "3e-5 for the discriminator, decayed ×0.9 per epoch, with an exponential moving "
            "average of the weights (0.999) used for colorizing."
        ),
        strengths=(
            (
                "The most colourful of the study's models (published colourfulness 39.7, "
                "DeOldify 21.3, with the best FID of the study's four)."
            ),
            (
                "You choose the class, or ask for up to five candidates (the likeliest classes, "
                "or several seeds of your class) and keep the one you like."
            ),
            "The same seed and class always give the same result.",
        ),
        weaknesses=(
            (
                "Colours follow the class: a wrong class (portraits have no ImageNet class) "
                "gives odd colours. Without an installed ImageNet classifier, 'auto' uses broad "
                "outdoor scenes."
            ),
            "Works at a short side of 256 px: fine colour detail is limited.",
            (
                "It can invent colours the photo never had: the study measured the largest "
                "difference from the true colours (ΔE00 12.49)."
            ),
        ),
        study_delta_e00=12.49,
        order=40,
        trainer="ml.train.bigcolor:BigColorTraining",
        random_weights="ml.models.bigcolor:random_weights",
    )
)

IMAGENET_CLASS = ParamSpec(
    name="imagenet_class",
    kind="imagenet_class",
    default=-1,
    label="ImageNet class",
    help="What the photo shows, as one of ImageNet's 1000 classes (a number 0-999 or a name such "
    "as 'valley'); the colours follow that class. 'auto' (-1) ranks the classes with an installed "
    "ImageNet classifier (fetch_weights resnet101), or uses broad outdoor scenes without one.",
)
SEED = ParamSpec(
    name="seed",
    kind="int",
    default=0,
    label="Seed",
    help="Picks the random latent z ~ N(0, 0.8²): the same seed gives the same colours, another "
    "seed another plausible coloring.",
    min=0,
    max=2**31 - 1,
)
CANDIDATES = ParamSpec(
    name="candidates",
    kind="int",
    default=1,
    label="Candidates",
    help="How many colorings to make, shown side by side: the most likely classes in turn "
    "(automatic class) or successive seeds (chosen class).",
    min=1,
    max=5,
)
CANDIDATE = ParamSpec(
    name="candidate",
    kind="int",
    default=1,
    label="Candidate",
    help="Which of the candidates this run is (1 = the first).",
    min=1,
    max=5,
    internal=True,
)
BIGCOLOR_PARAMS = (IMAGENET_CLASS, SEED, CANDIDATES, CANDIDATE)


def _google_drive(file_id: str) -> tuple[str, ...]:
    # The usercontent endpoint serves large files without the "cannot scan for viruses" page;
    # if Google sends a page anyway, the file fails to load and is discarded.
    return (
        f"https://drive.usercontent.google.com/download?id={file_id}&export=download&confirm=t",
        f"https://drive.google.com/uc?export=download&id={file_id}&confirm=t",
    )


# BigColor publishes no checksums: its files are verified by loading them (see DeOldify above).
register_weights(
    WeightFile(
        key="bigcolor",
        filename="EG_011.ckpt",
        network="bigcolor",
        licence="MIT",
        urls=_google_drive("1SCrcIxhm2F1SMTUUcNTEtB4fQu6y7RDK"),
    )
)
register_weights(
    WeightFile(
        key="bigcolor-ema",
        filename="EG_EMA_011.ckpt",
        network="bigcolor",
        licence="MIT",
        urls=_google_drive("1A6JwWeedJa56_6lDOkkR3hqvJ_aNUghE"),
        requires=("bigcolor",),
    )
)
register(
    ModelSpec(
        key="bigcolor",
        short_name="BigColor",
        character="rich, several versions",
        family="bigcolor",
        name="BigColor (official)",
        hint="BigColor: rich, varied colour from a generative prior; choose the class or compare "
        "several",
        description=(
            "Geonung Kim et al.'s BigColor (ECCV 2022). An encoder reads the gray photo into "
            "features that replace the first layers of a BigGAN generator pretrained on ImageNet, "
            "which then paints the colour conditioned on an ImageNet class and a random latent. "
            "It gives the most colourful results of the study's models (published colourfulness "
            "39.7, DeOldify 21.3) but depends on the class: pick one, or ask for several "
            "candidates and keep the best. The official weights averaged over training (EMA)."
        ),
        predictor="ml.models.bigcolor:BigColorPredictor",
        weights="bigcolor-ema",
        official=True,
        params=BIGCOLOR_PARAMS,
        options={"base_weights": "bigcolor"},
        needs_gpu=True,  # a BigGAN-256 generator, with every candidate a full run
    )
)
register_weights(
    WeightFile(
        key="bigcolor-coloria",
        filename="bigcolor-coloria.pth",
        network="bigcolor",
        licence="MIT",
        official=False,
    )
)
register(
    ModelSpec(
        key="bigcolor-coloria",
        short_name="BigColor, Coloria-trained",
        character="rich, several versions",
        family="bigcolor",
        name="BigColor (Coloria-trained)",
        hint="The BigColor network fine-tuned by Coloria's own pipeline",
        description=(
            "The official BigColor architecture trained by Coloria as the study trained its own: "
            "python -m ml.train bigcolor --config ml/train/configs/bigcolor.toml (MSE, VGG feature "
            "and hinge adversarial losses, EMA of the weights), on any folder of colour photos. "
            "Installed with import_weights after a training run."
        ),
        predictor="ml.models.bigcolor:BigColorPredictor",
        weights="bigcolor-coloria",
        params=BIGCOLOR_PARAMS,
        needs_gpu=True,
    )
)

# BigColor's training (python -m ml.train bigcolor) starts, as the official run does, from the
# BigGAN-256 generator (G_ema_256.pth, keys without the `G.` prefix) and discriminator (D_256.pth)
# of the release's download-pretrained.sh, and measures a feature loss with ImageNet VGG16.
# No checksums are published for the BigGAN files: each is checked by loading it into the network
# it starts (key names and shapes); without them the run starts from random weights and says so.
register_weights(
    WeightFile(
        key="bigcolor-biggan-g",
        filename="G_ema_256.pth",
        network="biggan-256-generator",
        licence="MIT (BigColor, BigGAN-PyTorch); trained on ImageNet",
        urls=_google_drive("197ypWuWcwKI3Mrq11jbCWkk-r_-cj2tT"),
        purpose="training",
        loader="ml.train.biggan:check_generator_file",
    )
)
register_weights(
    WeightFile(
        key="bigcolor-biggan-d",
        filename="D_256.pth",
        network="biggan-256-discriminator",
        licence="MIT (BigColor, BigGAN-PyTorch); trained on ImageNet",
        urls=_google_drive("1usoLZNnDzB3WLAphrGz5W2lJKxMMZJQw"),
        purpose="training",
        loader="ml.train.biggan:check_discriminator_file",
    )
)
