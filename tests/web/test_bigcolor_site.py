"""BigColor on the site: class (searchable list), seed and candidates are offered, validated and
used; several candidates of one photo open side by side; the class used is shown."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from colorize.models import Job
from ml import classify
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db


def test_home_offers_class_seed_and_candidates(client, bigcolor_model):
    page = client.get(reverse("colorize:home")).content.decode()
    assert 'name="bigcolor:imagenet_class"' in page and 'list="imagenet-classes"' in page
    assert '<option value="979: valley">' in page and page.count("<option value=") >= 1000
    assert 'name="bigcolor:seed"' in page and 'name="bigcolor:candidates"' in page
    assert 'name="bigcolor:candidate"' not in page  # set by Coloria, not by people
    # The own-trained variant is not installed: not offered, and no install command for visitors.
    assert 'value="bigcolor-coloria"' not in page and "import_weights" not in page


def test_candidates_run_as_jobs_shown_side_by_side(
    client, bigcolor_model, settings, media_root, django_capture_on_commit_callbacks
):
    settings.COLORIA_SYNC_JOBS = True
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("colorize:home"),
            {"images": [SimpleUploadedFile("p.png", encode(make_photo(120, 80)))],
             "model": bigcolor_model, f"{bigcolor_model}:imagenet_class": "auto",
             f"{bigcolor_model}:seed": "4", f"{bigcolor_model}:candidates": "3"},
        )  # fmt: skip
    jobs = list(Job.objects.order_by("params__candidate"))
    assert [job.params["candidate"] for job in jobs] == [1, 2, 3]
    assert all(job.status == Job.Status.SUCCEEDED for job in jobs), [j.error for j in jobs]
    batch = jobs[0].batch
    assert response["Location"] == reverse("colorize:compare", args=[batch.id])
    # Without an ImageNet classifier, "auto" takes the broad scenes in turn.
    used = [job.result.details["imagenet_class"] for job in jobs]
    assert used == list(classify.FALLBACK_CLASSES[:3])

    compare = client.get(response["Location"]).content.decode()
    assert "Several colorings, one photo" in compare
    assert "3 candidates of BigColor (official)" in compare
    for number in (1, 2, 3):
        assert f"BigColor (official) · candidate {number} of 3" in compare
    page = client.get(reverse("colorize:job", args=[jobs[1].id])).content.decode()
    assert "ImageNet class: automatic" in page and "Class used: 978: seashore" in page
    assert "Compare the candidates" in page


def test_a_chosen_class_is_used_and_shown(
    client, bigcolor_model, settings, media_root, django_capture_on_commit_callbacks
):
    settings.COLORIA_SYNC_JOBS = True
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("colorize:home"),
            {"images": [SimpleUploadedFile("p.png", encode(make_photo()))],
             "model": bigcolor_model, f"{bigcolor_model}:imagenet_class": "207: golden retriever"},
        )  # fmt: skip
    job = Job.objects.get()
    assert response["Location"] == reverse("colorize:job", args=[job.id])
    assert job.params["imagenet_class"] == 207
    details = dict(job.result.details)
    assert details.pop("inference").startswith("fast (")  # BigColor runs fast by default
    assert details == {"imagenet_class": 207, "seed": 0}
    page = client.get(response["Location"]).content.decode()
    assert "ImageNet class: 207: golden retriever" in page


def test_an_unknown_class_is_refused_clearly(client, bigcolor_model, media_root):
    response = client.post(
        reverse("colorize:home"),
        {"images": [SimpleUploadedFile("p.png", encode(make_photo()))], "model": bigcolor_model,
         f"{bigcolor_model}:imagenet_class": "unicorn"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "is not one of the 1000 classes" in response.content.decode()
    assert Job.objects.count() == 0


def test_the_model_page_describes_bigcolor(client, bigcolor_model):
    page = client.get(reverse("colorize:model-family", args=["bigcolor"])).content.decode()
    assert "BigGAN" in page and "105 million parameters" in page
    assert "the 1000 ImageNet classes" in page and "12.49" in page
    assert "Candidate</th>" not in page  # the internal parameter is not listed
