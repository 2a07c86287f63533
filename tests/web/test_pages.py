"""Every page renders, says what it should, stays CSP-clean, and keeps private things private."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from colorize import evaluations
from colorize.models import Job
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db


def text(response) -> str:
    """The page's HTML with whitespace runs collapsed, for phrase checks."""
    return " ".join(response.content.decode().split())


def assert_csp_clean(html: str) -> None:
    """No inline scripts, inline event handlers or inline styles: ready for a strict CSP."""
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert not re.search(r"\sstyle\s*=", html), "inline style attribute"
    assert "<style" not in html


def anonymous_batch(client: Client, colorize_photos, **options):
    return colorize_photos(session_key=client.session.session_key, **options)


# --- Public pages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["colorize:home", "colorize:gallery", "colorize:models", "colorize:how-it-works",
             "colorize:about"],
)  # fmt: skip
def test_public_pages_render_clean(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    html = response.content.decode()
    assert_csp_clean(html)
    assert "<nav" in html and 'href="#content"' in html  # main navigation, skip link


def test_home_has_the_upload_widgets_and_the_model_picker(client):
    page = text(client.get(reverse("colorize:home")))
    assert 'id="dropzone"' in page and 'id="images"' in page and "Choose photos" in page
    assert 'data-max-files="5"' in page and 'accept="image/jpeg' in page
    # Installed models, by their plain names and character, with their hints for the line below;
    # SIGGRAPH17 is not installed: not offered, only counted, and no shell command for visitors.
    assert ">Colorful (Zhang 2016) — saturated, fast</option>" in page
    assert "Colorful Image Colorization: fast, saturated" in page
    assert 'value="zhang-siggraph17"' not in page
    assert re.search(r"\d+ more models can be installed by the site’s administrator", page)
    assert "fetch_weights" not in page and "manage.py" not in page
    assert 'value="all"' in page and "All models" in page
    # Per-model settings keep the `<model key>:<param>` contract.
    assert 'name="zhang-eccv16:temperature"' in page
    assert "deleted 10 minutes after they are done" in page


def test_home_does_not_promise_deletion_to_signed_in_users(client, make_user):
    client.force_login(make_user("ann"))
    page = text(client.get(reverse("colorize:home")))
    assert "deleted 10 minutes" not in page
    assert reverse("colorize:history") in page


def test_models_index_lists_every_family_from_the_registry(client):
    page = text(client.get(reverse("colorize:models")))
    for family in ("zhang", "cnn"):
        assert reverse("colorize:model-family", args=[family]) in page
    assert "Zhang ECCV16 (official)" in page and "CNN (Coloria-trained)" in page
    assert "Official weights" in page and "Trained by Coloria" in page
    assert "7.46" in page and "12.49" in page


def test_model_family_page_without_figures(client, settings, tmp_path):
    settings.COLORIA_DATA_DIR = tmp_path  # no evaluations/latest.json here
    response = client.get(reverse("colorize:model-family", args=["zhang"]))
    page = text(response)
    assert response.status_code == 200
    assert_csp_clean(response.content.decode())
    assert "Zhang ECCV16 (official)" in page and "Zhang SIGGRAPH17" in page
    assert "313" in page  # the registry's description
    assert "Official weights from the authors" in page
    assert "Colour strength" in page and "0.1–1.0" in page  # parameters from the registry
    assert "Installed here" in page and "Not installed here" in page
    assert "Not measured on this site yet" in page


def write_latest(tmp_path, data) -> None:
    folder = tmp_path / "evaluations"
    folder.mkdir(parents=True, exist_ok=True)
    content = data if isinstance(data, str) else json.dumps(data)
    (folder / "latest.json").write_text(content)


def test_model_family_page_shows_the_latest_evaluation(client, settings, tmp_path):
    settings.COLORIA_DATA_DIR = tmp_path
    stats = {"mean": 11.234, "median": 11.0, "ci_low": 10.5, "ci_high": 12.01, "n": 40}
    write_latest(
        tmp_path,
        {
            "format": 1,
            "models": {
                "zhang-eccv16": {
                    "name": "Zhang ECCV16 (official)",
                    "evaluated_at": "2026-11-20T10:00:00Z",
                    "n_images": 40,
                    "device": "cpu",
                    "metrics": {"delta_e00": stats, "psnr": {"mean": 23.5}, "ssim": {"mean": 0.91}},
                    "vs_grey": {"delta_e00": {"mean": -0.75}},
                    "grey_baseline": {"delta_e00": {"mean": 11.98}},
                    "timing": {"seconds_per_image_mean": 0.4321, "load_seconds": 1.2},
                    "memory": {"peak_rss_mb": 812.0, "cuda_peak_mb": None},
                }
            },
        },
    )
    page = text(client.get(reverse("colorize:model-family", args=["zhang"])))
    assert "On 40 held-out colour photos, on cpu, 20 Nov 2026" in page
    assert "11.23" in page and "10.50 – 12.01" in page and "11.98" in page  # model, CI, grey
    assert "23.50 dB" in page and "0.91" in page
    assert "0.43 s" in page and "812 MB" in page
    assert "-0.75" in page
    # SIGGRAPH17 has no figures in the file.
    assert "Not measured on this site yet" in page


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        json.dumps({"models": []}),
        json.dumps({"models": {"zhang-eccv16": "broken"}}),
        json.dumps({"models": {"zhang-eccv16": {"metrics": {"delta_e00": {"mean": "7"}}}}}),
        json.dumps({"models": {"zhang-eccv16": {"metrics": {"delta_e00": []}, "timing": 3}}}),
        '{"models": {"zhang-eccv16": {"metrics": {"delta_e00": {"mean": NaN}}}}}',
    ],
)
def test_model_page_survives_a_damaged_evaluation_file(client, settings, tmp_path, content):
    settings.COLORIA_DATA_DIR = tmp_path
    write_latest(tmp_path, content)
    response = client.get(reverse("colorize:model-family", args=["zhang"]))
    assert response.status_code == 200
    assert "Not measured on this site yet" in text(response)


def test_evaluation_figures_skip_bad_values_but_keep_good_ones(tmp_path):
    write_latest(
        tmp_path,
        {
            "models": {
                "m": {
                    "metrics": {"delta_e00": {"mean": 8.5, "ci_low": "x"}, "psnr": {"mean": True}},
                    "timing": {"seconds_per_image_mean": -1e400},
                    "n_images": "many",
                    "evaluated_at": "not a date",
                }
            }
        },
    )
    figures = evaluations.evaluation_figures(tmp_path / "evaluations" / "latest.json")["m"]
    assert [(m.label.split()[0], m.mean, m.ci_low) for m in figures.metrics] == [
        ("ΔE00", 8.5, None)
    ]
    assert figures.seconds_per_image is None and figures.n_images is None
    assert figures.evaluated_at is None


def test_unknown_model_family_is_404(client):
    assert client.get(reverse("colorize:model-family", args=["nope"])).status_code == 404


def test_about_and_how_it_works_explain_the_study_and_lab(client):
    about = text(client.get(reverse("colorize:about")))
    for figure in ("7.46", "7.87", "9.42", "12.49"):
        assert figure in about
    assert "DeOldify Artistic" in about and "BigColor" in about
    assert "rewards dull output" in about and "leave-it-grey baseline" in about
    how = text(client.get(reverse("colorize:how-it-works")))
    assert "Lab" in how and "lightness" in how and "predicts" in how
    assert "deleted, with their results, 10 minutes" in how


# --- Batch, job and compare pages ----------------------------------------------------------------


def test_upload_of_two_photos_leads_to_the_batch_page(client, settings, media_root):
    settings.COLORIA_SYNC_JOBS = True
    files = [SimpleUploadedFile(f"p{i}.png", encode(make_photo(seed=i))) for i in range(2)]
    response = client.post(reverse("colorize:home"), {"images": files, "model": "zhang-eccv16"})
    batch_url = response.url
    assert response.status_code == 302 and "/batches/" in batch_url
    response = client.get(batch_url)
    page = text(response)
    assert_csp_clean(response.content.decode())
    assert "p0.png" in page and "p1.png" in page
    assert "Zhang ECCV16 (official)" in page
    assert "Download all (.zip)" in page


def test_batch_status_reports_every_job(client, colorize_photos):
    batch = anonymous_batch(client, colorize_photos, count=2)
    data = client.get(reverse("colorize:batch-status", args=[batch.id])).json()
    assert data["finished"] is True and data["total"] == 2 and data["done"] == 2
    assert data["expires_at"]  # anonymous: deleted later
    for job in data["jobs"]:
        assert job["status"] == "succeeded" and job["status_label"] == "Done"
        assert job["thumbnail_url"].endswith("/thumbnail/result")
        assert job["can_retry"] is False and job["model_name"] == "Zhang ECCV16 (official)"


def test_a_failed_job_shows_its_message_and_a_retry_button(client, colorize_photos):
    batch = anonymous_batch(client, colorize_photos, count=2)
    failed = batch.jobs.first()
    Job.objects.filter(pk=failed.pk).update(status=Job.Status.FAILED, error="The <model> broke.")
    data = client.get(reverse("colorize:batch-status", args=[batch.id])).json()
    (entry,) = [job for job in data["jobs"] if job["id"] == str(failed.id)]
    assert entry["can_retry"] is True and entry["error"] == "The <model> broke."
    page = client.get(reverse("colorize:batch", args=[batch.id])).content.decode()
    assert "The &lt;model&gt; broke." in page  # escaped
    assert reverse("colorize:job-retry", args=[failed.id]) in page


def test_retry_from_the_batch_page_returns_to_it(
    client, colorize_photos, django_capture_on_commit_callbacks
):
    batch = anonymous_batch(client, colorize_photos, count=2)
    failed = batch.jobs.first()
    Job.objects.filter(pk=failed.pk).update(status=Job.Status.FAILED, error="boom")
    back = reverse("colorize:batch", args=[batch.id])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("colorize:job-retry", args=[failed.id]), {"next": back})
    assert response.url == back
    failed.refresh_from_db()
    assert failed.status == Job.Status.SUCCEEDED


def test_retry_ignores_a_next_on_another_site(client, colorize_photos):
    batch = anonymous_batch(client, colorize_photos)
    job = batch.jobs.get()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error="boom")
    response = client.post(
        reverse("colorize:job-retry", args=[job.id]), {"next": "https://evil.example/"}
    )
    assert response.url == reverse("colorize:job", args=[job.id])


def test_result_page_has_slider_details_and_downloads(client, colorize_photos):
    batch = anonymous_batch(client, colorize_photos, name="grandma<b>.png")
    job = batch.jobs.get()
    response = client.get(reverse("colorize:job", args=[job.id]))
    html = response.content.decode()
    page = text(response)
    assert_csp_clean(html)
    assert 'id="result"' in page and 'role="slider"' in page and 'aria-valuenow="50"' in page
    assert "Colorized by Coloria" in page
    assert "grandma&lt;b&gt;.png" in page and "<b>" not in page
    assert "Zhang ECCV16 (official)" in page and "Colour strength: 1.0" in page
    assert re.search(r"Processing time</dt> <dd>\d+\.\d s", page)
    assert "Download PNG" in page and "?format=jpeg&amp;download=1" in page
    assert reverse("colorize:batch-zip", args=[batch.id]) in page
    assert "deleted 10 minutes after they are done" in page
    assert f'data-job="{job.id}" data-status="succeeded"' in page


def test_pending_job_page_polls_its_status(client, settings, media_root):
    # No on_commit callbacks run in this test: the job stays queued.
    client.post(
        reverse("colorize:home"),
        {"images": [SimpleUploadedFile("a.png", encode(make_photo()))], "model": "zhang-eccv16"},
    )
    job = Job.objects.get()
    page = text(client.get(reverse("colorize:job", args=[job.id])))
    assert "data-progress" in page and reverse("colorize:job-status", args=[job.id]) in page
    assert 'data-status="queued"' in page and "Queued" in page
    status = client.get(reverse("colorize:job-status", args=[job.id])).json()
    assert status["status"] == "queued" and status["result_url"] is None


def test_all_models_runs_every_installed_model_and_opens_the_comparison(
    client, settings, media_root, hint_model, django_capture_on_commit_callbacks
):
    settings.COLORIA_SYNC_JOBS = True
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("colorize:home"),
            {"images": [SimpleUploadedFile("one.png", encode(make_photo()))], "model": "all"},
        )
    eccv, sig = Job.objects.order_by("model_key")
    assert {eccv.model_key, sig.model_key} == {"zhang-eccv16", hint_model}
    assert response.url == reverse("colorize:compare", args=[eccv.batch_id])
    response = client.get(response.url)
    html = response.content.decode()
    page = text(response)
    assert_csp_clean(html)
    assert "Zhang ECCV16 (official)" in page and "Zhang SIGGRAPH17" in page
    assert 'id="left-side"' in page and 'id="right-side"' in page and 'role="slider"' in page
    assert reverse("colorize:job-thumbnail", args=[sig.id, "result"]) in page
    assert f"?left={eccv.id}&amp;right={sig.id}" in page  # each model against another
    # A chosen pair is drawn by the server too (no JavaScript needed).
    chosen = text(client.get(response.request["PATH_INFO"], {"left": eccv.id, "right": sig.id}))
    assert f'src="{reverse("colorize:job-result", args=[eccv.id])}"' in chosen
    assert re.search(rf'<option value="{eccv.id}"[^>]*selected', chosen)


def test_compare_page_of_a_single_model_batch_goes_to_the_batch(client, colorize_photos):
    batch = anonymous_batch(client, colorize_photos)
    response = client.get(reverse("colorize:compare", args=[batch.id]))
    assert response.url == reverse("colorize:batch", args=[batch.id])


# --- Permissions ---------------------------------------------------------------------------------

PRIVATE_GETS = [
    ("colorize:job", "job"),
    ("colorize:job-status", "job"),
    ("colorize:job-original", "job"),
    ("colorize:job-result", "job"),
    ("colorize:batch", "batch"),
    ("colorize:batch-status", "batch"),
    ("colorize:compare", "batch"),
    ("colorize:batch-zip", "batch"),
]
OWNER_POSTS = [
    "colorize:job-retry",
    "colorize:job-rerun",
    "colorize:job-publish",
    "colorize:job-unpublish",
    "colorize:job-delete",
]


@pytest.mark.parametrize("stranger_kind", ["anonymous", "signed-in"])
def test_strangers_get_404_for_everything_private(
    client, colorize_photos, make_user, stranger_kind
):
    owner = make_user("owner")
    batch = colorize_photos(owner=owner)
    job = batch.jobs.get()
    stranger = Client()
    if stranger_kind == "signed-in":
        stranger.force_login(make_user("stranger"))
    for name, kind in PRIVATE_GETS:
        target = job.id if kind == "job" else batch.id
        assert stranger.get(reverse(name, args=[target])).status_code == 404, name
    for kind in ("original", "result"):
        url = reverse("colorize:job-thumbnail", args=[job.id, kind])
        assert stranger.get(url).status_code == 404
    for name in OWNER_POSTS:
        assert stranger.post(reverse(name, args=[job.id])).status_code == 404, name
    assert Job.objects.filter(pk=job.pk).exists()


def test_an_anonymous_visitor_owns_what_their_session_sent(client, colorize_photos):
    batch = anonymous_batch(client, colorize_photos)
    job = batch.jobs.get()
    for name, kind in PRIVATE_GETS:
        target = job.id if kind == "job" else batch.id
        assert client.get(reverse(name, args=[target])).status_code in (200, 302), name


def test_staff_may_look_but_not_act(client, colorize_photos, make_user):
    batch = colorize_photos(owner=make_user("owner"))
    job = batch.jobs.get()
    client.force_login(make_user("moderator", is_staff=True))
    assert client.get(reverse("colorize:job", args=[job.id])).status_code == 200
    assert client.post(reverse("colorize:job-delete", args=[job.id])).status_code == 404


def test_thumbnail_kind_must_be_known(client, colorize_photos):
    job = anonymous_batch(client, colorize_photos).jobs.get()
    assert client.get(reverse("colorize:job-thumbnail", args=[job.id, "x"])).status_code == 404


def test_pages_for_a_signed_in_owner_have_no_expiry_note(client, colorize_photos, make_user):
    user = make_user("ann")
    client.force_login(user)
    job = colorize_photos(owner=user).jobs.get()
    page = text(client.get(reverse("colorize:job", args=[job.id])))
    assert "deleted 10 minutes" not in page
    assert "Publish to the gallery" in page and "Delete" in page


@pytest.mark.django_db
def test_pages_are_served_with_a_strict_content_security_policy(client):
    policy = client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "Content-Security-Policy" not in client.get("/admin/login/")


def test_model_page_shows_the_card_of_shipped_weights(client, tmp_path, monkeypatch):
    import json

    from ml import config

    monkeypatch.setattr(config, "SHIPPED_WEIGHTS_DIR", tmp_path)
    card = {
        "model": "zhang-eccv16-coloria", "weights_file": "zhang-eccv16-coloria.pth",
        "family": "zhang", "steps": 1400, "training_seconds": 1800, "clears_the_bar": False,
        "hardware": {"device": "cpu", "cpu_count": 2},
        "data": {"description": "Coloria's offline photo set (489 photos)."},
        "validation": {"delta_e00": 14.2, "grey_delta_e00": 13.0, "colourfulness": 21.0,
                       "truth_colourfulness": 40.0, "psnr": 21.5, "grey_psnr": 22.0,
                       "photos": 100},
    }  # fmt: skip
    (tmp_path / "zhang-eccv16-coloria.json").write_text(json.dumps(card))
    page = client.get("/models/zhang/").content.decode()
    assert "How Coloria trained it" in page
    assert "1400 training steps in 30 minutes" in page
    assert "14.20" in page and "13.00" in page and "Does not clear" in page


def test_model_page_tells_both_stages_of_a_fine_tuned_model(client, tmp_path, monkeypatch):
    import json

    from ml import config

    monkeypatch.setattr(config, "SHIPPED_WEIGHTS_DIR", tmp_path)
    card = {
        "model": "zhang-eccv16-coloria", "weights_file": "zhang-eccv16-coloria.pth",
        "family": "zhang", "steps": 1500, "training_seconds": 780,
        "hardware": {"device": "cpu", "cpu_count": 2}, "data": {"description": "the photo set."},
        "started_from": {"weights": "first.pth (sha256 ab12)",
                         "first_stage": {"steps": 1400, "training_seconds": 2160}},
    }  # fmt: skip
    (tmp_path / "zhang-eccv16-coloria.json").write_text(json.dumps(card))
    page = client.get("/models/zhang/").content.decode()
    assert "Trained in 2 stages on CPU (2 cores)" in page
    assert "<li>1400 training steps in 36 minutes, from scratch</li>" in page
    assert "<li>1500 training steps in 13 minutes, fine-tuning those weights</li>" in page


def test_without_a_default_model_the_visitor_must_choose(client, monkeypatch):
    from colorize.services import submission

    monkeypatch.setattr(submission, "default_model_key", lambda: None)
    page = client.get("/").content.decode()
    assert '<option value="" selected disabled>Choose a model…</option>' in page
    assert " selected>" not in page.split("Choose a model…", 1)[1].split("</select>", 1)[0]


def test_pages_name_an_icon_that_exists(client):
    from django.contrib.staticfiles import finders

    page = client.get("/").content.decode()
    assert 'rel="icon"' in page and "favicon.svg" in page
    assert finders.find("favicon.svg")


def test_a_gone_job_page_explains_that_anonymous_photos_expire(client):
    page = " ".join(
        client.get("/jobs/00000000-0000-0000-0000-000000000000/").content.decode().split()
    )
    assert "nothing here" in page and "deleted a few minutes after they are done" in page
    assert "deleted a few minutes" not in client.get("/models/nope/").content.decode()
