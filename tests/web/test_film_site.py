"""A short film on the site and through the API (issue #24): sent on the upload page or to
POST /api/v1/jobs, checked with ml.video.probe (a clear 400 for each bad film), colorized by the
worker into an MP4 of the same frames and size with a poster, its progress frame by frame,
cancelled by its owner, kept in the history, and deleted with its files when it expires."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import av
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from colorize.models import Job, Kind, Upload
from colorize.services import expiry, films, running, video
from colorize.services.recovery import claim
from ml.video import VideoTimeLimit
from tests.ml.video_clips import make_clip

pytestmark = pytest.mark.django_db


@pytest.fixture
def film_site(settings, media_root, tmp_path):
    settings.COLORIA_SYNC_JOBS = True
    settings.COLORIA_VIDEO_WORK_DIR = tmp_path / "films"
    settings.COLORIA_VIDEO_PROGRESS_SECONDS = 0  # every frame's progress is written
    return settings


def clip_bytes(tmp_path: Path, name: str = "clip.mp4", **options) -> bytes:
    path = make_clip(tmp_path / name, **options)
    return path.read_bytes()


def send(client, data: bytes, name: str = "clip.mp4", model: str = "zhang-eccv16"):
    return client.post(
        reverse("colorize:home"),
        {"images": [SimpleUploadedFile(name, data, content_type="video/mp4")], "model": model},
    )


def frames_of(path_or_file) -> tuple[int, int, int]:
    with av.open(path_or_file) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        return len(frames), frames[0].width, frames[0].height


def test_a_film_sent_on_the_page_becomes_an_mp4_with_a_poster(
    client, film_site, tmp_path, django_capture_on_commit_callbacks
):
    data = clip_bytes(tmp_path, width=64, height=48, frames=10, fps=10)
    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, data, name="street.mp4")
    job = Job.objects.get()
    assert response.status_code == 302 and response.url == reverse("colorize:job", args=[job.id])
    assert job.kind == Kind.VIDEO and job.upload.kind == Kind.VIDEO
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert (job.upload.frames, job.upload.width, job.upload.height) == (10, 64, 48)
    assert job.progress_done == job.progress_total == 10
    result = job.result
    assert result.image.name.endswith(".mp4") and result.poster.name.endswith(".poster.jpg")
    with result.image.open("rb") as stored:
        assert frames_of(stored) == (10, 64, 48)
    assert result.details["frames"] == 10 and result.details["seconds_per_frame"] > 0
    assert not films.work_dir(job.pk).exists()  # the frames kept between runs are gone

    page = client.get(response.url).content.decode()
    assert 'class="ba-after ba-video"' in page and "film/result" in page and "film/original" in page
    played = client.get(reverse("colorize:job-film", args=[job.id, "result"]))
    assert played.status_code == 200 and played["Content-Type"] == "video/mp4"
    assert played["Accept-Ranges"] == "bytes"
    part = client.get(reverse("colorize:job-film", args=[job.id, "result"]), HTTP_RANGE="bytes=0-9")
    assert part.status_code == 206 and len(b"".join(part.streaming_content)) == 10
    poster = client.get(reverse("colorize:job-film", args=[job.id, "poster"]))
    assert poster.status_code == 200 and poster["Content-Type"] == "image/jpeg"
    thumb = client.get(reverse("colorize:job-thumbnail", args=[job.id, "original"]))
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    status = client.get(reverse("colorize:job-status", args=[job.id])).json()
    assert status["kind"] == "video" and status["progress"]["done"] == 10


BAD_FILMS = {
    "not a video": (lambda tmp: b"these are words, not a film", "The file is not a video"),
    "one frame": (
        lambda tmp: clip_bytes(tmp, frames=1, audio=None),
        "The video has only one frame: too short to be a film.",
    ),
    "audio only": (lambda tmp: _audio_only(tmp), "holds only sound"),
    "truncated": (
        lambda tmp: clip_bytes(tmp, frames=40, width=160, height=120)[:3000],
        "damaged or incomplete",
    ),
    "too long": (lambda tmp: clip_bytes(tmp, frames=30, fps=10), "films up to 2 s"),
}


def _audio_only(tmp_path: Path) -> bytes:
    import numpy as np

    path = tmp_path / "sound.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        stream.layout = "mono"
        samples = (np.sin(np.arange(16000) / 5) * 0.3).astype(np.float32)[None, :]
        for start in range(0, 16000, 1024):
            frame = av.AudioFrame.from_ndarray(samples[:, start : start + 1024], format="fltp",
                                               layout="mono")  # fmt: skip
            frame.sample_rate = 16000
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path.read_bytes()


@pytest.mark.parametrize("case", sorted(BAD_FILMS))
def test_each_bad_film_is_a_400_with_its_reason_on_the_page_and_in_the_api(
    case, client, film_site, tmp_path, api_client, make_user
):
    api = api_client(make_user("api"))
    film_site.COLORIA_VIDEO_MAX_SECONDS = 2
    make, message = BAD_FILMS[case]
    data = make(tmp_path)
    response = send(client, data, name="bad.mp4")
    assert response.status_code == 400
    assert message in " ".join(response.content.decode().split()), case
    answer = api.post(
        "/api/v1/jobs",
        {"images": [SimpleUploadedFile("bad.mp4", data, content_type="video/mp4")],
         "model": "zhang-eccv16"},
    )  # fmt: skip
    assert answer.status_code == 400 and message in str(answer.json()), case
    assert Upload.objects.count() == Job.objects.count() == 0


def test_a_vfr_phone_clip_is_accepted(client, film_site, tmp_path):
    times = [0, 100, 180, 300, 350, 500, 620, 700]
    response = send(client, clip_bytes(tmp_path, frames=8, times_ms=times), name="phone.mov")
    assert response.status_code == 302 and Job.objects.get().kind == Kind.VIDEO


def test_a_film_through_the_api(
    api_client, make_user, film_site, tmp_path, django_capture_on_commit_callbacks
):
    api_client = api_client(make_user("api"))
    data = clip_bytes(tmp_path, frames=6, fps=6)
    with django_capture_on_commit_callbacks(execute=True):
        answer = api_client.post(
            "/api/v1/jobs",
            {"images": [SimpleUploadedFile("clip.webm.mp4", data)], "model": "zhang-eccv16"},
        )
    assert answer.status_code == 202, answer.content
    job_id = answer.json()["jobs"][0]["id"] if "jobs" in answer.json() else answer.json()["id"]
    body = api_client.get(f"/api/v1/jobs/{job_id}").json()
    assert body["kind"] == "video" and body["status"] == "succeeded"
    assert body["progress"] == {"done": 6, "total": 6, "seconds_left": None} or (
        body["progress"]["done"] == body["progress"]["total"] == 6
    )
    assert body["video_url"].endswith(f"/api/v1/jobs/{job_id}/result") and body["poster_url"]
    film = api_client.get(body["video_url"])
    assert film.status_code == 200 and film["Content-Type"] == "video/mp4"


def test_a_film_runs_in_slices_and_a_cancel_stops_it(client, film_site, tmp_path, monkeypatch):
    film_site.COLORIA_SYNC_JOBS = False  # the test runs the worker itself
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)
    send(client, clip_bytes(tmp_path, frames=12, fps=12))
    job = Job.objects.get()
    queued_at, enqueued = job.queued_at, job.enqueue_count
    # A slice that ends after 4 frames (as its time would), then queued again to go on.
    original_update = video._Progress.update

    def slice_of_four(self, done, total):
        original_update(self, done, total)
        if done == 4:
            raise VideoTimeLimit("the slice is over")

    monkeypatch.setattr(video._Progress, "update", slice_of_four)
    running.job_run(job_id=job.pk)
    monkeypatch.setattr(video._Progress, "update", original_update)
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and job.progress_done == 4
    assert any(films.work_dir(job.pk).rglob("*")), "frames kept for the next run"
    assert job.attempts == 0  # a slice is not an attempt
    assert job.queued_at == queued_at  # it keeps its place in the history and the API's list
    assert job.enqueue_count == enqueued + 1  # handed to the queue again, for the next slice

    # The owner cancels while it runs: the worker stops within a frame and keeps no result.
    seen = []

    def cancel_midway(done: int, total: int, original=video._Progress.update) -> None:
        seen.append(done)
        if len(seen) == 2:
            client.post(reverse("colorize:job-cancel", args=[job.pk]))

    def update(self, done, total):
        _Progress_update(self, done, total)
        cancel_midway(done, total)

    _Progress_update = video._Progress.update
    monkeypatch.setattr(video._Progress, "update", update)
    running.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.error == running.CANCELLED
    assert not hasattr(job, "result") and len(seen) <= 4
    # Try again: it goes on from the frames kept and finishes.
    monkeypatch.setattr(video._Progress, "update", _Progress_update)
    running.job_retry(job=job)
    running.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result.details["resumed_from"] > 0


def test_progress_is_written_with_the_time_left(film_site, client, tmp_path, monkeypatch):
    film_site.COLORIA_SYNC_JOBS = False
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)
    send(client, clip_bytes(tmp_path, frames=6, fps=6))
    job = Job.objects.get()
    token = claim(job.pk)
    progress = video._Progress(job.pk, token)
    for done in range(1, 4):
        progress.update(done, 1500)
    job.refresh_from_db()
    assert (job.progress_done, job.progress_total) == (3, 1500) and job.progress_eta > 0
    page = client.get(reverse("colorize:job-status", args=[job.pk])).json()
    assert page["progress"]["text"].startswith("frame 3 of 1,500 · about ")
    assert not progress.cancelled()
    running.job_cancel(job=job)
    progress.checked_at = float("-inf")
    assert progress.cancelled()


def test_history_lists_the_film_and_expiry_deletes_its_files(
    client, film_site, tmp_path, make_user, django_capture_on_commit_callbacks
):
    client.force_login(make_user("ada"))
    with django_capture_on_commit_callbacks(execute=True):
        send(client, clip_bytes(tmp_path, frames=6, fps=6), name="ada-film.mp4")
    history = client.get(reverse("colorize:history")).content.decode()
    assert "ada-film.mp4" in history
    client.logout()

    with django_capture_on_commit_callbacks(execute=True):
        send(client, clip_bytes(tmp_path, name="anon.mp4", frames=6, fps=6))
    anonymous = Job.objects.get(owner__isnull=True)
    assert anonymous.upload.expires_at is not None  # the same 10 minutes as photos
    names = [anonymous.upload.image.name, anonymous.result.image.name, anonymous.result.poster.name]
    storage = anonymous.result.image.storage
    assert all(storage.exists(name) for name in names)
    films.work_dir(anonymous.pk).mkdir(parents=True)  # as a stopped run leaves it
    with django_capture_on_commit_callbacks(execute=True):
        assert expiry.purge_expired_uploads(now=timezone.now() + timedelta(minutes=11)) == 1
    assert not any(storage.exists(name) for name in names)
    assert not films.work_dir(anonymous.pk).exists()
    assert Job.objects.filter(owner__isnull=False).count() == 1


def test_the_upload_page_takes_a_film(client, film_site):
    page = client.get(reverse("colorize:home")).content.decode()
    assert "video/mp4" in page and ".mkv" in page and "Or one short film" in page
    assert 'data-film-default="zhang-eccv16"' in page
    assert 'value="zhang-eccv16"' in page and "data-film" in page


def test_a_film_goes_to_the_gpu_queue_when_the_site_splits_its_queues(
    client, film_site, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    film_site.COLORIA_SYNC_JOBS = False
    film_site.COLORIA_GPU_QUEUE = True
    sent = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kw: sent.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        send(client, clip_bytes(tmp_path, frames=6, fps=6))
    assert [task["cluster"] for task in sent] == [film_site.COLORIA_GPU_QUEUE_NAME]


def test_the_sweep_prunes_work_folders_of_films_gone_or_done(client, film_site, tmp_path):
    from colorize.services.recovery import sweep

    send(client, clip_bytes(tmp_path, frames=6, fps=6))
    done = Job.objects.get()
    Job.objects.filter(pk=done.pk).update(status=Job.Status.SUCCEEDED)
    root = film_site.COLORIA_VIDEO_WORK_DIR
    gone = root / "job-00000000-0000-0000-0000-000000000001"
    for folder in (films.work_dir(done.pk), gone):
        (folder / "frames").mkdir(parents=True)
    waiting = Job.objects.create(batch=done.batch, upload=done.upload, model_key=done.model_key,
                                 kind=Kind.VIDEO, status=Job.Status.FAILED)  # fmt: skip
    films.work_dir(waiting.pk).mkdir(parents=True)  # a retry goes on from it
    sweep()
    assert not films.work_dir(done.pk).exists() and not gone.exists()
    assert films.work_dir(waiting.pk).exists()


def test_a_shared_film_plays_its_result_and_keeps_its_original_private(
    client, film_site, tmp_path, django_capture_on_commit_callbacks
):
    from django.test import Client

    from colorize.services import sharing

    with django_capture_on_commit_callbacks(execute=True):
        send(client, clip_bytes(tmp_path, frames=6, fps=6))
    job = sharing.job_share(job=Job.objects.get())
    visitor = Client()
    page = visitor.get(reverse("colorize:shared", args=[job.share_token]))
    assert page.status_code == 200 and 'id="download-mp4"' in page.content.decode()
    film = visitor.get(reverse("colorize:shared-result", args=[job.share_token]))
    assert film.status_code == 200 and film["Content-Type"] == "video/mp4"
    preview = visitor.get(reverse("colorize:shared-preview", args=[job.share_token]))
    assert preview.status_code == 200 and preview["Content-Type"] == "image/jpeg"
    original = visitor.get(reverse("colorize:shared-original", args=[job.share_token]))
    assert original.status_code == 404
    thumb = client.get(reverse("colorize:job-thumbnail", args=[job.id, "result"]))
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"


def test_a_film_run_again_is_a_film_and_no_comparison(
    client, film_site, tmp_path, django_capture_on_commit_callbacks
):
    from colorize.selectors import model_pages

    with django_capture_on_commit_callbacks(execute=True):
        send(client, clip_bytes(tmp_path, frames=6, fps=6))
    first = Job.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        again = running.job_rerun(job=first, params={})
    again.refresh_from_db()
    assert again.kind == Kind.VIDEO and again.status == Job.Status.SUCCEEDED, again.error
    assert again.result.image.name.endswith(".mp4")
    assert not model_pages.is_comparison(first.batch)
    refused = client.post(reverse("colorize:job-refine", args=[first.id]), {"strokes": "[]"})
    assert refused.status_code == 400


def test_a_worker_killed_mid_film_is_recovered_and_the_rerun_goes_on_from_its_frames(
    client, film_site, tmp_path, monkeypatch
):
    from colorize.services.recovery import sweep

    film_site.COLORIA_SYNC_JOBS = False
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)
    send(client, clip_bytes(tmp_path, frames=10, fps=10))
    job = Job.objects.get()
    update = video._Progress.update

    def killed_at_five(self, done, total):
        update(self, done, total)
        if done == 5:
            raise SystemExit("the worker process is killed")

    monkeypatch.setattr(video._Progress, "update", killed_at_five)
    with pytest.raises(SystemExit):
        running.job_run(job_id=job.pk)
    monkeypatch.setattr(video._Progress, "update", update)
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and job.progress_done == 5
    # Its heartbeat stops; the sweep takes it for lost and queues it again.
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert sweep()["queued"] == 1
    running.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result.details["resumed_from"] == 5 and job.attempts == 2
