"""DDColor on the site: the input size is offered, validated and used; the model page."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from colorize.models import Job
from ml.color import gray_to_lightness, rgb_to_lab, to_gray
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db


def test_home_offers_the_input_size_of_an_installed_ddcolor(client, ddcolor_model):
    page = client.get(reverse("colorize:home")).content.decode()
    assert f'name="{ddcolor_model}:input_size"' in page and "256–1024" in page
    assert 'value="ddcolor-modelscope"' not in page  # not installed here: not offered


def test_a_photo_is_colorized_at_the_chosen_input_size(
    client, ddcolor_model, settings, media_root, django_capture_on_commit_callbacks
):
    settings.COLORIA_SYNC_JOBS = True
    photo = make_photo(150, 100, mode="RGB", seed=4)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("colorize:home"),
            {"images": [SimpleUploadedFile("p.png", encode(photo))], "model": ddcolor_model,
             f"{ddcolor_model}:input_size": "320"},
        )  # fmt: skip
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.params == {"input_size": 320}
    with job.result.image.open("rb") as handle:
        result = Image.open(handle).convert("RGB")
    assert result.size == photo.size
    lab = rgb_to_lab(np.asarray(result, dtype=np.float32) / 255)
    assert np.abs(lab[..., 0] - gray_to_lightness(to_gray(photo))).max() < 1.0
    assert np.hypot(lab[..., 1], lab[..., 2]).mean() > 2.0
    page = client.get(reverse("colorize:job", args=[job.id])).content.decode()
    assert "Input size: 320" in page


def test_an_input_size_out_of_range_is_refused_clearly(client, ddcolor_model, media_root):
    response = client.post(
        reverse("colorize:home"),
        {"images": [SimpleUploadedFile("p.png", encode(make_photo()))], "model": ddcolor_model,
         "param_input_size": "2048"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "Input size must be between 256 and 1024" in response.content.decode()
    assert Job.objects.count() == 0


def test_the_model_page_describes_ddcolor(client, ddcolor_model):
    page = client.get(reverse("colorize:model-family", args=["ddcolor"])).content.decode()
    assert "ConvNeXt" in page and "colour queries" in page
    for name in ("DDColor (official, paper)", "DDColor (official, ModelScope)",
                 "DDColor Tiny (official, paper)", "DDColor Tiny (Coloria-trained)"):  # fmt: skip
        assert name in page
