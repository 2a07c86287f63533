"""DeOldify on the site and the API: the render factor is offered, validated and used."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from colorize.models import Job
from ml.color import YUV_FROM_RGB
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db


def test_home_offers_the_render_factor_of_an_installed_deoldify(client, deoldify_model):
    page = client.get(reverse("colorize:home")).content.decode()
    assert 'name="deoldify-artistic:render_factor"' in page
    assert "Render factor" in page and "7–45" in page
    # Official Stable is not installed here: not offered; visitors see no install command.
    assert 'value="deoldify-stable"' not in page and "fetch_weights" not in page


def test_a_photo_is_colorized_at_the_chosen_render_factor(
    client, deoldify_model, settings, media_root, django_capture_on_commit_callbacks
):
    settings.COLORIA_SYNC_JOBS = True
    photo = make_photo(150, 100, seed=4)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("colorize:home"),
            {"images": [SimpleUploadedFile("p.png", encode(photo))], "model": deoldify_model,
             f"{deoldify_model}:render_factor": "9"},
        )  # fmt: skip
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.params == {"render_factor": 9}
    with job.result.image.open("rb") as handle:
        result = Image.open(handle).convert("RGB")
    # DeOldify keeps the photo's luma Y (its official recipe), not L*: Y is unchanged.
    assert result.size == photo.size
    rgb = np.asarray(result, dtype=np.float64) / 255
    assert np.abs(rgb @ YUV_FROM_RGB[0] - np.asarray(photo) / 255).max() <= 1.5 / 255
    assert np.abs(rgb @ YUV_FROM_RGB[1:].T).mean() > 0.005
    page = client.get(reverse("colorize:job", args=[job.id])).content.decode()
    assert "Render factor: 9" in page


def test_a_render_factor_out_of_range_is_refused_clearly(client, deoldify_model, media_root):
    response = client.post(
        reverse("colorize:home"),
        {"images": [SimpleUploadedFile("p.png", encode(make_photo()))], "model": deoldify_model,
         "param_render_factor": "60"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "Render factor must be between 7 and 45" in response.content.decode()
    assert Job.objects.count() == 0
