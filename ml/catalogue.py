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
            "(python -m ml.train zhang) on the offline photo set in two stages: 313 soft-encoded "
            "colour bins with class-rebalanced cross-entropy, then a fine-tune on the CIEDE2000 "
            "difference itself with a floor on colourfulness; random crops and flips. It ships "
            "with Coloria, so a fresh install colorizes without downloading anything; its card "
            "in ml/shipped/ gives its data, recipe and validation figures."
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

# --- DeOldify (Jason Antic): Artistic and Stable, the study's two best models -----------------

RENDER_FACTOR = ParamSpec(
    name="render_factor",
    kind="int",
    default=35,
    label="Render factor",
    help="The model colours a square of render factor x 16 pixels (35: 560 px). Higher brings "
    "more detail and vivid colour to good scans; lower can be steadier on old, damaged photos "
    "and is faster. Memory and time grow with its square.",
    min=7,
    max=45,
)
# DeOldify publishes no checksums: these files are verified by loading them into the network
# (a truncated download or an HTML error page fails), and the SHA-256 is printed on install.
register_weights(
    WeightFile(
        key="deoldify-artistic",
        filename="ColorizeArtistic_gen.pth",
        network="deoldify-artistic",
        licence="MIT",
        urls=("https://data.deepai.org/deoldify/ColorizeArtistic_gen.pth",),
    )
)
register_weights(
    WeightFile(
        key="deoldify-stable",
        filename="ColorizeStable_gen.pth",
        network="deoldify-stable",
        licence="MIT",
        urls=(
            "https://www.dropbox.com/s/axsd2g85uyixaho/ColorizeStable_gen.pth?dl=1",
            "https://data.deepai.org/deoldify/ColorizeStable_gen.pth",
        ),
    )
)
register_weights(
    WeightFile(
        key="deoldify-video",
        filename="ColorizeVideo_gen.pth",
        network="deoldify-stable",
        licence="MIT",
        urls=("https://data.deepai.org/deoldify/ColorizeVideo_gen.pth",),
    )
)
register(
    ModelSpec(
        key="deoldify-artistic",
        family="deoldify-artistic",
        name="DeOldify Artistic (official)",
        hint="Artistic: vivid, bold, detailed colour; less steady on ordinary scenes",
        description=(
            "Jason Antic's DeOldify, Artistic model: a U-Net whose encoder is a ResNet-34 and "
            "whose deep decoder (1.5 x wider, self-attention, spectral norm) rebuilds colour at "
            "the model's render size. Trained 'NoGAN': long generator pretraining with a "
            "perceptual loss, then a short GAN phase. The study's best model (mean ΔE00 7.46): "
            "the most vivid and detailed colour, at the price of stability on ordinary scenes."
        ),
        predictor="ml.models.deoldify:DeOldifyPredictor",
        weights="deoldify-artistic",
        official=True,
        params=(RENDER_FACTOR,),
        options={"variant": "artistic"},
    )
)
register(
    ModelSpec(
        key="deoldify-stable",
        family="deoldify-stable",
        name="DeOldify Stable (official)",
        hint="Stable: natural skin tones, portraits and landscapes; less saturated",
        description=(
            "DeOldify's Stable model: a U-Net on a ResNet-101 encoder with a wide, shallow "
            "decoder (one conv per level, 1024 channels), trained NoGAN like Artistic. The "
            "study's second best (mean ΔE00 7.87): natural faces, skies and landscapes, fewer "
            "odd colours, less saturation."
        ),
        predictor="ml.models.deoldify:DeOldifyPredictor",
        weights="deoldify-stable",
        official=True,
        params=(RENDER_FACTOR,),
        options={"variant": "stable"},
    )
)
register(
    ModelSpec(
        key="deoldify-video",
        family="deoldify-stable",
        name="DeOldify Video (official)",
        hint="Stable's network tuned for steady colour from frame to frame; calm on photos too",
        description=(
            "The network of the Stable model trained for film: colour that does not flicker "
            "between frames. On single photos it is the most conservative DeOldify model."
        ),
        predictor="ml.models.deoldify:DeOldifyPredictor",
        weights="deoldify-video",
        official=True,
        params=(RENDER_FACTOR,),
        options={"variant": "video"},
    )
)

# --- BigColor (Kim et al., ECCV 2022): an encoder feeding BigGAN's generative colour prior ------

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
        loader="ml.train.bigcolor:check_generator_file",
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
        loader="ml.train.bigcolor:check_discriminator_file",
    )
)

# --- ImageNet backbones for training (torchvision's files; not colorization models) -------------
# DeOldify's pipeline starts its encoder from ImageNet and measures its feature loss with VGG16-bn;
# DDColor's starts from a ConvNeXt (torchvision's ImageNet-1k files; the authors used 22k ones,
# renamed into the encoder by ml.train.ddcolor); BigColor's feature loss uses VGG16 and the
# ResNets rank BigColor's classes.
# torchvision names each file after the first hex digits of its SHA-256, and publishes no more.
for _key, _file in (
    ("resnet18", "resnet18-f37072fd.pth"),
    ("resnet34", "resnet34-b627a593.pth"),
    ("resnet101", "resnet101-63fe2227.pth"),
    ("vgg16-bn", "vgg16_bn-6c64b313.pth"),
    ("vgg16", "vgg16-397923af.pth"),
    ("convnext-tiny", "convnext_tiny-983f1562.pth"),
    ("convnext-large", "convnext_large-ea097f82.pth"),
):
    register_weights(
        WeightFile(
            key=_key,
            filename=_file,
            network=f"torchvision-{_key}",
            licence="BSD-3-Clause (torchvision); trained on ImageNet",
            urls=(f"https://download.pytorch.org/models/{_file}",),
            sha256_prefix=_file.rsplit("-", 1)[1].removesuffix(".pth"),
            purpose="training",
        )
    )

# --- DeOldify trained by Coloria's NoGAN pipeline (the study's own-trained rows) ---------------
# Too large to ship (127 MB and 436 MB in fp16) and too slow to train on a CPU: train them on a
# GPU with the configs below, then install the exported file with import_weights.
for _variant, _title, _config in (
    ("artistic", "Artistic", "deoldify-artistic.toml"),
    ("stable", "Stable", "deoldify-stable.toml"),
):
    register_weights(
        WeightFile(
            key=f"deoldify-{_variant}-coloria",
            filename=f"deoldify-{_variant}-coloria.pth",
            network=f"deoldify-{_variant}",
            licence="MIT",
            official=False,
        )
    )
    register(
        ModelSpec(
            key=f"deoldify-{_variant}-coloria",
            family=f"deoldify-{_variant}",
            name=f"DeOldify {_title} (Coloria-trained)",
            hint=f"The {_title} network trained by Coloria's own NoGAN pipeline",
            description=(
                f"The official {_title} architecture trained by Coloria, as the study trained "
                f"its own: python -m ml.train deoldify --config ml/train/configs/{_config} "
                "(generator pretraining at 64, 128 and 192 px, critic pretraining, a short GAN "
                "phase), on any folder of colour photos."
            ),
            predictor="ml.models.deoldify:DeOldifyPredictor",
            weights=f"deoldify-{_variant}-coloria",
            params=(RENDER_FACTOR,),
            options={"variant": _variant},
        )
    )

# --- DDColor (Kang et al., ICCV 2023): dual decoders with learnt colour queries -----------------

INPUT_SIZE = ParamSpec(
    name="input_size",
    kind="int",
    default=512,
    label="Input size",
    help="The photo is coloured as a square of this many pixels (rounded to a multiple of 32; "
    "512 is the official setting). Larger brings finer colour detail on large scans, smaller "
    "is faster; memory and time grow with its square.",
    min=256,
    max=1024,
)


def _ddcolor_hub(filename: str) -> tuple[str, ...]:
    return (f"https://huggingface.co/piddnad/DDColor-models/resolve/main/{filename}",)


# DDColor publishes no checksums: its files are verified by loading them (see DeOldify above).
for _key, _file, _network in (
    ("ddcolor-paper", "ddcolor_paper.pth", "ddcolor-large"),
    ("ddcolor-modelscope", "ddcolor_modelscope.pth", "ddcolor-large"),
    ("ddcolor-artistic", "ddcolor_artistic.pth", "ddcolor-large"),
    ("ddcolor-tiny", "ddcolor_paper_tiny.pth", "ddcolor-tiny"),
):
    register_weights(
        WeightFile(
            key=_key,
            filename=_file,
            network=_network,
            licence="Apache-2.0",
            urls=_ddcolor_hub(_file),
            sha256=None,
            official=True,
        )
    )

_DDCOLOR_PREDICTOR = "ml.models.ddcolor:DDColorPredictor"
_DDCOLOR_L = (
    "DDColor-L (228 million parameters): a ConvNeXt-L encoder, a pixel decoder that rebuilds the "
    "image features at full size, and a colour decoder whose 100 learnt colour queries attend to "
    "those features at three scales; each query's embedding, matched against every pixel's "
    "features, votes for the colour. "
)
register(
    ModelSpec(
        key="ddcolor-paper",
        family="ddcolor",
        name="DDColor (official, paper)",
        hint="DDColor: vivid, natural colour that stays inside object edges",
        description=(
            "Xiaoyang Kang et al.'s DDColor (ICCV 2023). "
            + _DDCOLOR_L
            + "The weights of the paper, trained on ImageNet: the best published FID of any "
            "model here (3.92 on ImageNet val, colourfulness 38.3). The authors suggest the "
            "ModelScope weights for photos outside ImageNet."
        ),
        predictor=_DDCOLOR_PREDICTOR,
        weights="ddcolor-paper",
        official=True,
        params=(INPUT_SIZE,),
        options={"variant": "large"},
    )
)
register(
    ModelSpec(
        key="ddcolor-modelscope",
        family="ddcolor",
        name="DDColor (official, ModelScope)",
        hint="DDColor's recommended weights: the best looking colour on everyday photos",
        description=(
            "DDColor-L as released on ModelScope, the authors' default: trained on ImageNet with "
            "BigColor's data cleaning (photos with little colour left out), which gives the best "
            "looking results on photos outside ImageNet at a small cost in FID. " + _DDCOLOR_L
        ),
        predictor=_DDCOLOR_PREDICTOR,
        weights="ddcolor-modelscope",
        official=True,
        params=(INPUT_SIZE,),
        options={"variant": "large"},
    )
)
register(
    ModelSpec(
        key="ddcolor-artistic",
        family="ddcolor",
        name="DDColor (official, artistic)",
        hint="DDColor artistic: different, often richer colour with fewer colour blotches",
        description=(
            "DDColor-L trained by its authors on ImageNet plus many high-quality artistic "
            "images, without the colourfulness loss, so it makes fewer unreasonable colour "
            "patches; a different rendering to try. " + _DDCOLOR_L
        ),
        predictor=_DDCOLOR_PREDICTOR,
        weights="ddcolor-artistic",
        official=True,
        params=(INPUT_SIZE,),
        options={"variant": "large"},
    )
)
register(
    ModelSpec(
        key="ddcolor-tiny",
        family="ddcolor",
        name="DDColor Tiny (official, paper)",
        hint="DDColor-T: the same recipe at a quarter of the size, faster on a CPU",
        description=(
            "DDColor-T from the paper (55 million parameters): the DDColor recipe on a "
            "ConvNeXt-T encoder, trained on ImageNet (FID 4.38, colourfulness 37.7 on ImageNet "
            "val), about four times lighter than DDColor-L."
        ),
        predictor=_DDCOLOR_PREDICTOR,
        weights="ddcolor-tiny",
        official=True,
        params=(INPUT_SIZE,),
        options={"variant": "tiny"},
    )
)
register_weights(
    WeightFile(
        key="ddcolor-tiny-coloria",
        filename="ddcolor-tiny-coloria.pth",
        network="ddcolor-tiny",
        licence="MIT",
        official=False,
    )
)
register(
    ModelSpec(
        key="ddcolor-tiny-coloria",
        family="ddcolor",
        name="DDColor Tiny (Coloria-trained)",
        hint="The DDColor-T network trained by Coloria's own pipeline",
        description=(
            "The official DDColor-T architecture trained by Coloria: python -m ml.train ddcolor "
            "--config ml/train/configs/ddcolor-tiny.toml (L1 on a, b, VGG16 perceptual, "
            "adversarial and colourfulness losses, AdamW), on any folder of colour photos. "
            "Installed with import_weights after a training run."
        ),
        predictor=_DDCOLOR_PREDICTOR,
        weights="ddcolor-tiny-coloria",
        params=(INPUT_SIZE,),
        options={"variant": "tiny"},
    )
)
