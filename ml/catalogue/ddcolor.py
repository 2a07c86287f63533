"""DDColor (Kang et al., ICCV 2023): dual decoders with learnt colour queries."""

from ml.registry import Family, ModelSpec, ParamSpec, register, register_family
from ml.weights import WeightFile, register_weights

register_family(
    Family(
        key="ddcolor",
        title="DDColor",
        summary=(
            "Xiaoyang Kang and colleagues' DDColor (ICCV 2023): learnt colour queries decoded "
            "against the photo's features; the best published results of the models here."
        ),
        architecture=(
            "A ConvNeXt encoder (ConvNeXt-L for DDColor-L, 228 million parameters; ConvNeXt-T "
            "for DDColor-T, 55 million) reads the grey photo, stretched to a square (512 px by "
            "default). Two decoders follow. A pixel decoder of three U-Net blocks and a ×4 "
            "pixel shuffle rebuilds full-size image features. A colour decoder starts from 100 "
            "learnt colour queries and refines them in 9 transformer layers, each attending to "
            "the pixel decoder's features at 1/16, 1/8 or 1/4 of the size in turn. Every "
            "query's embedding is matched against every pixel's features, and a last 1×1 "
            "convolution turns those 100 maps into the a, b colour channels, which Coloria "
            "joins to the photo's own lightness at full resolution."
        ),
        training=(
            "ImageNet at 256 px, 400,000 steps of batch 16 on 4 GPUs, the encoder starting from "
            "ImageNet-22k: L1 on a, b (×0.1), a VGG16 perceptual loss (×5), an adversarial loss "
            "against a U-Net discriminator (×1) and a colourfulness loss (×0.5) against dull "
            "colour, with targets colour-enhanced ×1.2; AdamW at 1e-4, halved after 80,000 "
            "steps and every 40,000 after that. The ModelScope weights leave out photos with "
            "little colour (as BigColor did); the artistic ones add many artistic images and "
            "drop the colourfulness loss. Coloria's pipeline (python -m ml.train ddcolor) uses "
            "the same losses and optimiser, with DeOldify's patch critic as the discriminator "
            "and torchvision's ImageNet-1k ConvNeXt as the encoder's start."
        ),
        strengths=(
            (
                "The best published figures of the models here (ImageNet val: FID 3.92 for "
                "DDColor-L, 4.38 for DDColor-T; BigColor 5.36, DeOldify 6.59), with "
                "colourfulness close to the real photos'."
            ),
            "Colour follows object edges: little of the bleeding of pixel-wise models.",
            (
                "Four official weights: paper, ModelScope (the authors' default), artistic and "
                "the lighter DDColor-T."
            ),
        ),
        weaknesses=(
            ("Heavy: DDColor-L has 228 million parameters and takes seconds per photo on a CPU."),
            (
                "The colourfulness loss can leave unnatural colour patches (often red); the "
                "artistic weights, trained without it, have fewer."
            ),
            "The photo is coloured as a square: very wide or tall photos are squeezed first.",
        ),
        order=50,
        trainer="ml.train.ddcolor:DDColorTraining",
        random_weights="ml.models.ddcolor:random_weights",
    )
)

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
    ends=("faster", "finer detail"),
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
        short_name="DDColor",
        character="vivid, natural",
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
        needs_gpu=True,  # DDColor-L: 228 million parameters, over 900 MB in fp32
    )
)
register(
    ModelSpec(
        key="ddcolor-modelscope",
        short_name="DDColor, recommended",
        character="the best on everyday photos",
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
        needs_gpu=True,  # DDColor-L: 228 million parameters, over 900 MB in fp32
    )
)
register(
    ModelSpec(
        key="ddcolor-artistic",
        short_name="DDColor Artistic",
        character="richer colour",
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
        needs_gpu=True,  # DDColor-L: 228 million parameters, over 900 MB in fp32
    )
)
register(
    ModelSpec(
        key="ddcolor-tiny",
        short_name="DDColor Tiny",
        character="fast",
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
        short_name="DDColor Tiny, Coloria-trained",
        character="fast",
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
