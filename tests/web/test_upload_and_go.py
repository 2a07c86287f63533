"""The first ten seconds and the paths around a result (#21), as Django views: the picker, the
"try it" links, sample photos and the home page's example, the strength setting, next steps,
the before | after download, and no shell commands for visitors."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

import ml
from colorize import samples
from colorize.models import Job
from ml import config
from tests.conftest import SHIPPED_WEIGHTS_DIR

pytestmark = pytest.mark.django_db


def squashed(response) -> str:
    return " ".join(response.content.decode().split())


def test_a_model_page_offers_try_it_for_installed_models_only(client, make_user):
    page = squashed(client.get("/models/zhang/"))
    assert 'href="/?model=zhang-eccv16"' in page  # installed (random weights in the tests)
    assert "?model=zhang-siggraph17" not in page  # not installed: no "Try it"
    assert "Not installed on this site: its administrator can install it." in page
    assert "manage.py" not in page and "fetch_weights" not in page
    client.force_login(make_user("root", is_staff=True))
    page = squashed(client.get("/models/zhang/"))
    assert "python manage.py fetch_weights zhang-siggraph17" in page
    assert "python manage.py evaluate --models zhang-eccv16" in page


def test_try_it_opens_the_form_with_that_model_chosen(client, deoldify_model):
    page = squashed(client.get(f"/?model={deoldify_model}"))
    assert re.search(rf'<option value="{deoldify_model}"[^>]*selected', page)
    # A model that is not installed (or unknown) cannot be chosen by a link: the default stays.
    page = squashed(client.get("/?model=zhang-siggraph17"))
    assert not re.search(r'<option value="zhang-siggraph17"', page)
    assert re.search(r"<option value=\"[^\"]+\"[^>]*selected", page)


def test_a_sample_photo_is_colorized_without_bringing_one(
    client, settings, media_root, django_capture_on_commit_callbacks
):
    settings.COLORIA_SYNC_JOBS = True
    page = squashed(client.get("/"))
    for sample in samples.SAMPLES:
        assert f'form="sample-form" name="sample" value="{sample.key}"' in page
    # The sample buttons belong to their own form: Enter in the upload form sends its photos.
    upload_form = page.split('id="upload-form"', 1)[1].split("</form>", 1)[0]
    assert re.findall(r"<button[^>]*type=\"submit\"(?![^>]*form=)[^>]*>", upload_form) == [
        '<button type="submit" class="btn btn-primary btn-large" id="submit-button">'
    ]
    shown = client.get(reverse("colorize:sample", args=["cat"]))
    assert shown["Content-Type"] == "image/jpeg"
    sent = Image.open(io.BytesIO(shown.content))
    assert sent.mode == "L" and sent.size == (451, 300)
    assert client.get("/samples/nope.jpg").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/", {"sample": "cat", "model": "zhang-eccv16"})
    job = Job.objects.get()
    assert response.status_code == 302 and response.url == f"/jobs/{job.id}/"
    assert job.upload.original_name == "cat.jpg" and (job.upload.width, job.upload.height) == (
        451, 300
    )  # fmt: skip
    assert job.status == Job.Status.SUCCEEDED, job.error


def test_the_about_page_credits_the_sample_photos(client):
    page = squashed(client.get("/about/"))
    for sample in samples.SAMPLES:
        assert f"{sample.credit}, {sample.licence}" in page and sample.source in page


def test_the_home_pages_example_is_a_real_output_of_the_model_it_names(monkeypatch):
    """The static example is what the named model makes of the sample with the shipped weights
    (render_example makes it again), not a colour photo passed off as a result."""
    from django.contrib.staticfiles import finders

    monkeypatch.setattr(config, "SHIPPED_WEIGHTS_DIR", SHIPPED_WEIGHTS_DIR)
    shipped = np.asarray(Image.open(finders.find(samples.EXAMPLE_STATIC)).convert("RGB"), float)
    made = np.asarray(samples.render_example().convert("RGB"), float)
    assert shipped.shape == made.shape
    assert np.abs(shipped - made).mean() < 4.0  # JPEG's loss only
    grey = np.asarray(Image.open(io.BytesIO(samples.sample_jpeg(samples.EXAMPLE_SAMPLE))), float)
    assert np.abs(shipped.mean(axis=2) - grey).mean() > 1.0  # it has colour the sample lacks


def test_the_home_page_shows_the_example_before_asking_for_a_photo(client):
    page = squashed(client.get("/"))
    hero, _form = page.split('id="upload-form"', 1)
    assert 'id="home-example"' in hero and samples.EXAMPLE_STATIC in hero
    assert f'src="/samples/{samples.EXAMPLE_SAMPLE}.jpg"' in hero
    assert "A real result:" in hero and "colorized by Coloria-Lite" in hero


def test_a_fresh_gallery_says_how_results_get_there(client):
    page = squashed(client.get("/gallery/"))
    assert "Nothing shared yet" in page and "Publish to the gallery" in page
    assert 'href="/accounts/signup/"' in page


def test_strength_is_a_slider_with_true_words_at_its_ends(client, monkeypatch):
    monkeypatch.setattr(config, "SHIPPED_WEIGHTS_DIR", SHIPPED_WEIGHTS_DIR)
    page = squashed(client.get("/"))
    field = page.split('id="zhang-eccv16-temperature"', 1)
    assert 'type="range"' in field[1].split(">", 1)[0]
    assert 'data-ends="vivid, may be blotchy|calm, even"' in field[1].split(">", 1)[0]
    coloria = page.split('id="zhang-eccv16-coloria-temperature"', 1)[1].split(">", 1)[0]
    assert 'data-ends="muted|more colourful"' in coloria


def test_a_result_can_be_run_again_at_another_strength_in_one_click(client, colorize_photos):
    batch = colorize_photos(session_key=_session(client), params={"temperature": "0.4"})
    job = batch.jobs.get()
    page = squashed(client.get(f"/jobs/{job.id}/"))
    assert "Colour strength: 0.4" in page
    assert (
        'name="param_temperature" value="0.1">Again, towards “vivid, may be blotchy” (0.1)' in page
    )
    assert 'name="param_temperature" value="0.7">Again, towards “calm, even” (0.7)' in page
    response = client.post(f"/jobs/{job.id}/rerun", {"param_temperature": "0.7"})
    rerun = Job.objects.exclude(pk=job.pk).get()
    assert response.url == f"/jobs/{rerun.id}/" and rerun.params["temperature"] == 0.7
    assert rerun.batch_id == job.batch_id and rerun.upload_id == job.upload_id


def test_another_model_on_the_same_photo_from_its_result(client, colorize_photos, deoldify_model):
    batch = colorize_photos(session_key=_session(client))
    job = batch.jobs.get()
    page = squashed(client.get(f"/jobs/{job.id}/"))
    offered = re.findall(r'<option value="([^"]+)">', page.split('id="try-model"', 1)[1])
    assert "zhang-eccv16" not in offered and deoldify_model in offered
    assert "reference" not in offered  # it needs a reference photo besides this one
    response = client.post(f"/jobs/{job.id}/try-model", {"model": deoldify_model})
    other = Job.objects.exclude(pk=job.pk).get()
    assert response.url == f"/jobs/{other.id}/"
    assert other.model_key == deoldify_model and other.upload_id == job.upload_id
    refused = client.post(f"/jobs/{job.id}/try-model", {"model": "zhang-siggraph17"})
    assert refused.status_code == 400 and "is not installed on this site" in squashed(refused)
    stranger = client.__class__()
    assert stranger.post(f"/jobs/{job.id}/try-model", {"model": deoldify_model}).status_code == 404


def test_previous_and_next_within_a_submission(client, colorize_photos):
    batch = colorize_photos(session_key=_session(client), count=3)
    first, second, third = [
        job.id for job in batch.jobs.order_by("upload__created_at", "upload_id")
    ]
    page = squashed(client.get(f"/jobs/{second}/"))
    assert (
        f'href="/jobs/{first}/" rel="prev"' in page and f'href="/jobs/{third}/" rel="next"' in page
    )
    assert "2 of 3 in this submission" in page
    page = squashed(client.get(f"/jobs/{first}/"))
    assert 'rel="prev"' not in page and "Colorize another photo" in page


def test_before_and_after_in_one_download(client, colorize_photos):
    batch = colorize_photos(session_key=_session(client), size=(120, 80))
    job = batch.jobs.get()
    response = client.get(f"/jobs/{job.id}/before-after.jpg")
    assert response["Content-Type"] == "image/jpeg"
    assert "attachment" in response["Content-Disposition"]
    both = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"), float)
    gap = 4
    assert both.shape == (80, 2 * 120 + gap, 3)
    left, right = both[:, :120], both[:, 120 + gap :]
    assert np.abs(left - left.mean(axis=2, keepdims=True)).max() < 12  # the grey original
    assert np.abs(right - right.mean(axis=2, keepdims=True)).max() > 2  # the colorized result
    assert np.all(both[:, 121 : 120 + gap - 1] > 240)  # the white gap between them
    assert client.__class__().get(f"/jobs/{job.id}/before-after.jpg").status_code == 404


def test_the_compare_page_downloads_everything_and_names_the_original_as_sent(
    client, colorize_photos
):
    batch = colorize_photos(session_key=_session(client), model="all")
    page = squashed(client.get(f"/batches/{batch.id}/compare/"))
    assert "Original, as sent" in page and "Black and white" not in page
    assert f'id="download-all" href="/batches/{batch.id}/results.zip"' in page


def test_results_of_an_experimental_model_say_so(client, colorize_photos, monkeypatch):
    monkeypatch.setattr(config, "SHIPPED_WEIGHTS_DIR", SHIPPED_WEIGHTS_DIR)
    ml.configure(weights_dir=SHIPPED_WEIGHTS_DIR.parent / "no-such-dir")
    batch = colorize_photos(session_key=_session(client), model="cnn-coloria")
    job = batch.jobs.get()
    assert job.status == Job.Status.SUCCEEDED, job.error
    page = squashed(client.get(f"/jobs/{job.id}/"))
    assert "Experimental colours:" in page and 'href="/models/cnn/">see its page</a>' in page


def _session(client) -> str:
    client.get("/")
    session = client.session
    session.save()
    return session.session_key
