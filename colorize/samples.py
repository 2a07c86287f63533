"""Sample photos a visitor can colorize without bringing one ("try a sample photo").

They are the freely licensed photographs that ship inside scikit-image (a dependency), turned
grey the way a black-and-white print would be: no file to download, nothing to store in the
repository. The about page credits each one.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

# The site's before/after example at the top of the home page: the "photographer" sample,
# colorized by the model named here (a real output, checked against the model by
# tests/web/test_samples.py; `python manage.py render_example` makes it again).
EXAMPLE_SAMPLE = "photographer"
EXAMPLE_MODEL = "coloria-lite"
EXAMPLE_STATIC = "img/example-photographer.jpg"


@dataclass(frozen=True)
class Sample:
    key: str
    title: str
    alt: str
    skimage_name: str  # the function of skimage.data that loads it
    credit: str
    licence: str
    source: str


SAMPLES = (
    Sample(
        "photographer", "A photographer", "A man filming on a tripod, in a park",
        "camera", "Lav Varshney", "CC0", "https://github.com/scikit-image/scikit-image/issues/3927",
    ),
    Sample(
        "astronaut", "An astronaut", "Astronaut Eileen Collins in her flight suit",
        "astronaut", "NASA", "public domain", "https://flic.kr/p/r9qvLn",
    ),
    Sample(
        "cat", "A cat", "A tabby cat, close up",
        "chelsea", "Stefan van der Walt", "CC0", "https://scikit-image.org/docs/stable/api/skimage.data.html",
    ),
    Sample(
        "rocket", "A rocket launch", "A rocket on its launch pad at dusk",
        "rocket", "SpaceX", "public domain",
        "https://www.flickr.com/photos/spacexphotos/16511594820/",
    ),
)  # fmt: skip


def sample(key: str) -> Sample | None:
    return next((found for found in SAMPLES if found.key == key), None)


@functools.lru_cache(maxsize=len(SAMPLES))
def sample_jpeg(key: str) -> bytes:
    """The sample as a grey JPEG (the photo a visitor sends when they try it)."""
    from skimage import data

    found = sample(key)
    if found is None:
        raise KeyError(key)
    grey = Image.fromarray(getattr(data, found.skimage_name)()).convert("L")
    buffer = io.BytesIO()
    grey.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def sample_upload(key: str) -> SimpleUploadedFile:
    """The sample as an uploaded file, for the submission service."""
    return SimpleUploadedFile(f"{key}.jpg", sample_jpeg(key), content_type="image/jpeg")


def render_example() -> Image.Image:
    """The home page's example: the example sample colorized by the example model (its shipped
    weights, default settings), as the worker would."""
    import ml

    with Image.open(io.BytesIO(sample_jpeg(EXAMPLE_SAMPLE))) as photo:
        return ml.colorize(photo.convert("L"), EXAMPLE_MODEL, device="cpu")
