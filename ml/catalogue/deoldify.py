"""DeOldify (Jason Antic): Artistic and Stable (and Video), the study's two best models, official
and trained by Coloria's NoGAN pipeline."""

from ml.registry import Family, ModelSpec, ParamSpec, register, register_family
from ml.weights import WeightFile, register_weights

register_family(
    Family(
        key="deoldify-artistic",
        title="DeOldify Artistic",
        summary=("Jason Antic's DeOldify, Artistic model: the study's best (vivid, detailed)."),
        architecture=(
            "A U-Net generator: a ResNet-34 encoder (trained on ImageNet classification first) "
            "and a deep decoder, 1.5× wider than usual, that upsamples four times with pixel "
            "shuffles (blurred against checkerboards), joins the encoder's feature map at each "
            "scale, and uses spectral normalisation and one self-attention layer. The photo is "
            "stretched to a square of render factor × 16 pixels (35: 560 px); the colour comes "
            "back at the photo's own size and keeps its own luminance."
        ),
        training=(
            "NoGAN: the generator first learns alone with a perceptual loss (pixel L1 plus "
            "VGG16 feature L1) at 64, 128 and 192 px; a critic then learns to tell its colour "
            "from real colour; a short GAN phase (about 3 % of the data, weights 1 : 2 for the "
            "critic's opinion) adds realism without the usual GAN instability. The study "
            "trained it for 13 h 34 on 100,000 ImageNet photos."
        ),
        strengths=(
            "Vivid, bold colour with the most detail of the four study models.",
            "Best mean ΔE00 in the study (7.46).",
            "Render factor trades detail for steadiness and speed.",
        ),
        weaknesses=(
            "Less steady on ordinary scenes: odd colours appear more often than with Stable.",
            "Heavy (64 million parameters): seconds per photo on a CPU.",
        ),
        study_delta_e00=7.46,
        order=30,
        trainer="ml.train.deoldify:DeOldifyTraining",
        train_name="deoldify",
        random_weights="ml.models.deoldify:random_weights",
    )
)

register_family(
    Family(
        key="deoldify-stable",
        title="DeOldify Stable",
        summary=("DeOldify's Stable model: natural faces and landscapes, less saturated."),
        architecture=(
            "The same U-Net recipe as Artistic on a bigger ResNet-101 encoder, with a wide and "
            "shallow decoder (one convolution per scale, 1024 channels). The Video model is the "
            "same network trained for colour that does not flicker between frames."
        ),
        training=(
            "NoGAN, like Artistic, with a gentler GAN phase (weights 1 : 1.5). The study "
            "trained it for 3 days on 100,000 ImageNet photos."
        ),
        strengths=(
            "Natural skin tones, skies and landscapes; rarely garish.",
            "Second best mean ΔE00 in the study (7.87).",
        ),
        weaknesses=(
            "Less saturated than Artistic.",
            "The heaviest model (218 million parameters): slow without a GPU.",
        ),
        study_delta_e00=7.87,
        order=31,
        trainer="ml.train.deoldify:DeOldifyTraining",
        train_name="deoldify",
        random_weights="ml.models.deoldify:random_weights",
    )
)

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
    ends=("steadier, faster", "more detail"),
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
        short_name="DeOldify Artistic",
        character="vivid, detailed",
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
        short_name="DeOldify Stable",
        character="natural, good with faces",
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
        needs_gpu=True,  # ResNet-101 U-Net, about 870 MB in fp32
    )
)
register(
    ModelSpec(
        key="deoldify-video",
        short_name="DeOldify Video",
        character="calm, steady",
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
        needs_gpu=True,  # Stable's network
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
            short_name=f"DeOldify {_title}, Coloria-trained",
            character="vivid, detailed" if _variant == "artistic" else "natural, good with faces",
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
            # Artistic (ResNet-34, 255 MB in fp32) is practical on a CPU; Stable is not.
            needs_gpu=_variant == "stable",
        )
    )
