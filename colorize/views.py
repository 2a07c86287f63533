"""Web pages: thin views that call services (writes) and selectors (reads)."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from coloria_site.ratelimit import client_address
from coloria_site.refusals import Refusal

from . import samples
from .model_picker import model_picker
from .models import Batch, Job
from .selectors import access, downloads, films, model_pages
from .services import expiry, running, sharing, storage, submission
from .services import films as films_service
from .services.errors import QuotaExceeded


def _session_key(request: HttpRequest, *, create: bool = False) -> str:
    if create and not request.session.session_key:
        request.session.save()
    return request.session.session_key or ""


def _job_or_404(request: HttpRequest, job_id) -> Job:
    job = access.job_for_viewer(job_id=job_id, user=request.user, session_key=_session_key(request))
    if job is None:
        raise Http404("No such job.")
    return job


def _own_job_or_404(request: HttpRequest, job_id) -> Job:
    job = access.job_for_owner(job_id=job_id, user=request.user, session_key=_session_key(request))
    if job is None:
        raise Http404("No such job.")
    return job


def _batch_or_404(request: HttpRequest, batch_id) -> Batch:
    batch = access.batch_for_viewer(
        batch_id=batch_id, user=request.user, session_key=_session_key(request)
    )
    if batch is None:
        raise Http404("No such batch.")
    return batch


def _next_or(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _params_from(data, model_key: str) -> dict[str, str]:
    """Model parameters from a form: fields named `<model key>:<parameter>` for the chosen model
    (the page has inputs for every model; only the chosen model's count), or `param_<name>`."""
    params = {}
    for name, value in data.items():
        if value == "":
            continue
        if name.startswith(f"{model_key}:"):
            params[name.split(":", 1)[1]] = value
        elif name.startswith("param_"):
            params[name.removeprefix("param_")] = value
    return params


def site_context(request: HttpRequest) -> dict:
    return {
        "ttl_minutes": settings.COLORIA_ANONYMOUS_TTL_MINUTES,
        "anonymous": not request.user.is_authenticated,
    }


# --- Upload --------------------------------------------------------------------------------------


def _preselected(request: HttpRequest, choices: list[model_pages.ModelChoice]) -> str:
    """The model the form starts with: one asked for in the link ("Try it on a photo" on a
    model page: ?model=<key>) when it is installed, else the site's default."""
    asked = request.GET.get("model", "")
    if asked == Batch.ALL_MODELS or any(c.installed and c.spec.key == asked for c in choices):
        return asked
    return submission.default_model_key() or ""


def _upload_context(request: HttpRequest, *, selected_model: str | None = None) -> dict:
    """What the upload form shows: the installed models (the rest counted), the limits, the
    sample photos and example, and the visitor's recent photos. `selected_model`: the model a
    refused form was sent with (else the link's, or the site's default)."""
    choices = model_pages.upload_choices()
    installed = [choice for choice in choices if choice.installed]
    context = {
        **site_context(request),
        "choices": installed,
        "unavailable": [choice for choice in choices if not choice.installed],
        "selected_model": _preselected(request, choices)
        if selected_model is None
        else selected_model,
        "any_installed": bool(installed),
        "installed_count": len(installed),
        # "All models" runs those that need only the photo (not the reference-photo model).
        "all_models_count": sum(not c.spec.missing_required({}) for c in installed),
        "all_models": Batch.ALL_MODELS,
        "max_batch": settings.COLORIA_MAX_BATCH,
        "max_bytes": settings.COLORIA_MAX_UPLOAD_BYTES,
        "max_mb": settings.COLORIA_MAX_UPLOAD_BYTES // 1_048_576,
        "max_pixels": settings.COLORIA_MAX_PIXELS,
        "accept": ",".join(submission.accepted_mime_types()),
        # One short film instead of photos (colorize.services.films): its limits and models.
        "film_accept": ",".join(films_service.VIDEO_MIME_TYPES),
        "film_max_bytes": settings.COLORIA_VIDEO_MAX_BYTES,
        "film_limits": films_service.limits_text(),
        "film_default": films_service.default_film_model() or "",
        "formats_text": submission.accepted_formats_text(),
        "samples": samples.SAMPLES,
        "example": model_pages.home_example(),
        # Work to find again: an anonymous visitor's photos until they are deleted; a signed-in
        # user's latest few, with a link to the history for the rest.
        "recent": access.recent_jobs(
            user=request.user,
            session_key=_session_key(request),
            limit=4 if request.user.is_authenticated else settings.COLORIA_MAX_BATCH * 3,
        ),
    }
    is_staff = request.user.is_authenticated and request.user.is_staff
    context["model_picker"] = model_picker(context, is_staff=is_staff)
    return context


@require_http_methods(["GET", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "colorize/home.html", _upload_context(request))

    # The upload page's script sends the form itself and asks for JSON: a refusal then leaves
    # every photo and setting the visitor chose in place (a reloaded page would clear them).
    answers_json = request.headers.get("Accept") == "application/json"
    model_key = request.POST.get("model", "")
    params = _params_from(request.POST, model_key)
    files = request.FILES.getlist("images")
    if chosen_sample := samples.sample(request.POST.get("sample", "")):
        files = [samples.sample_upload(chosen_sample.key)]
    refused: list[str] = []
    try:
        batch = submission.job_submit(
            files=files,
            model_key=model_key,
            params=params,
            owner=request.user,
            session_key=_session_key(request, create=True),
            client_address=client_address(request),
            reference=request.FILES.get("reference"),
            refused=refused,
        )
    except Refusal as exc:
        if answers_json:  # the page stays as it is, with the photos still chosen
            response = JsonResponse({"error": exc.message}, status=_error_status(exc))
            return _with_retry_after(response, exc)
        # The form again, as sent: only a refused page needs its models, samples and photos.
        context = {**_upload_context(request, selected_model=model_key), "error": exc.message}
        return _with_retry_after(
            render(request, "colorize/home.html", context, status=_error_status(exc)), exc
        )
    if refused:  # the good photos went on; say which were left out, and why
        messages.warning(request, "Not sent: " + " ".join(refused) + " The other photos were.")
    if not request.user.is_authenticated:  # signing in later keeps this work (colorize.signals)
        request.session[expiry.ANONYMOUS_SESSION] = batch.session_key
    target = _batch_landing(batch)
    return JsonResponse({"redirect": target}) if answers_json else redirect(target)


def _batch_landing(batch: Batch) -> str:
    """Where a submission goes next: the comparison, its one result, or its batch page."""
    if model_pages.is_comparison(batch):
        return reverse("colorize:compare", args=[batch.id])
    jobs = list(batch.jobs.all()[:2])
    if len(jobs) == 1:
        return reverse("colorize:job", args=[jobs[0].id])
    return reverse("colorize:batch", args=[batch.id])


# --- Batches -------------------------------------------------------------------------------------


def _job_json(job: Job, *, owner: bool) -> dict:
    succeeded = job.status == Job.Status.SUCCEEDED
    return {
        "id": str(job.id),
        "status": job.status,
        "status_label": job.get_status_display(),
        "error": job.error,
        "model": job.model_key,
        "model_name": model_pages.job_label(job),
        "duration": job.duration_seconds,
        "url": reverse("colorize:job", args=[job.id]),
        "result_url": reverse("colorize:job-result", args=[job.id]) if succeeded else None,
        "thumbnail_url": reverse("colorize:job-thumbnail", args=[job.id, "result"])
        if succeeded
        else None,
        "can_retry": owner and job.status == Job.Status.FAILED,
        **films.progress_json(job),  # a film's frames done
    }


def _batch_context(request: HttpRequest, batch: Batch) -> dict:
    jobs = model_pages.with_model_names(list(access.batch_jobs(batch)))
    progress = access.progress_of(jobs)
    return {
        **site_context(request),
        "batch": batch,
        "jobs": jobs,
        "progress": progress,
        "photos": len({job.upload_id for job in jobs}),
        "refresh": not progress.is_finished,
        "expires_at": access.batch_expires_at(batch),
        "is_all_models": batch.model_key == Batch.ALL_MODELS,
        "is_comparison": model_pages.is_comparison(batch, job_count=len(jobs)),
        "owner": access.is_owner(batch, request.user, _session_key(request)),
    }


def batch_detail(request: HttpRequest, batch_id) -> HttpResponse:
    batch = _batch_or_404(request, batch_id)
    return render(request, "colorize/batch.html", _batch_context(request, batch))


def batch_status(request: HttpRequest, batch_id) -> JsonResponse:
    batch = _batch_or_404(request, batch_id)
    context = _batch_context(request, batch)
    progress = context["progress"]
    expires_at = context["expires_at"]
    return JsonResponse(
        {
            "id": str(batch.id),
            "finished": progress.is_finished,
            "total": progress.total,
            "done": progress.done,
            "failed": progress.failed,
            "expires_at": expires_at.isoformat() if expires_at else None,
            "jobs": [_job_json(job, owner=context["owner"]) for job in context["jobs"]],
        }
    )


def batch_compare(request: HttpRequest, batch_id) -> HttpResponse:
    batch = _batch_or_404(request, batch_id)
    if not model_pages.is_comparison(batch):
        return redirect("colorize:batch", batch_id=batch.id)
    context = _batch_context(request, batch)
    jobs = context["jobs"]
    done = [job for job in jobs if job.status == Job.Status.SUCCEEDED]
    sides = {"original": "Original"}
    sides |= {str(job.id): job.model_name for job in done}
    left = request.GET.get("left", "original")
    right = request.GET.get("right") or (str(done[0].id) if done else "")
    left = left if left in sides else "original"
    right = (
        right
        if right in sides and right != left
        else next((key for key in sides if key != left), "")
    )
    upload_job = jobs[0] if jobs else None

    def image_url(side: str) -> str:
        if side == "original" and upload_job is not None:
            return reverse("colorize:job-original", args=[upload_job.id])
        return reverse("colorize:job-result", args=[side]) if side else ""

    context.update(
        {
            "done": done,
            "sides": sides,
            "left": left,
            "right": right,
            "left_url": image_url(left),
            "right_url": image_url(right),
            "left_name": sides.get(left, ""),
            "right_name": sides.get(right, ""),
            "upload_job": upload_job,
            "model_title": model_pages.model_name(batch.model_key),
        }
    )
    return render(request, "colorize/compare.html", context)


@require_GET
def batch_download(request: HttpRequest, batch_id) -> FileResponse:
    batch = _batch_or_404(request, batch_id)
    jobs = list(access.batch_jobs(batch))
    if not any(job.status == Job.Status.SUCCEEDED for job in jobs):
        raise Http404("Nothing in this batch is ready yet.")
    return FileResponse(
        downloads.batch_zip(jobs),
        as_attachment=True,
        filename=f"coloria-{str(batch.id)[:8]}.zip",
        content_type="application/zip",
    )


# --- Jobs ----------------------------------------------------------------------------------------


def _job_context(request: HttpRequest, job: Job, **extra) -> dict:
    spec = model_pages.spec_or_none(job.model_key)
    owner = access.is_owner(job, request.user, _session_key(request))
    # The submission's jobs in order, ids only: for stepping through them and for counting.
    siblings = access.batch_job_ids(job.batch)
    # Points for models that take them (SIGGRAPH17); scribbles repaint with strokes instead.
    takes_hints = (
        spec is not None
        and not job.is_video  # points and strokes go on one picture, not a film
        and spec.key != running.SCRIBBLES
        and any(p.kind == "hints" for p in spec.params)
    )
    succeeded = job.status == Job.Status.SUCCEEDED
    return {
        **site_context(request),
        "job": job,
        "spec": spec,
        "owner": owner,
        "is_staff": request.user.is_authenticated and request.user.is_staff,
        "params": model_pages.describe_params(job),
        "takes_hints": owner and takes_hints and succeeded,
        # A click on the picture moves the divider, except where it places a colour point.
        "drag_anywhere": not (owner and takes_hints and succeeded),
        "can_refine": owner and succeeded and not job.is_video,
        "progress_text": films.progress_text(job),
        "hints_json": json.dumps(job.params.get("hints", [])),
        "refresh": not job.is_finished,
        "is_all_models": job.batch.model_key == Batch.ALL_MODELS,
        "is_comparison": model_pages.is_comparison(job.batch, job_count=len(siblings)),
        "expires_at": job.upload.expires_at,
        "can_publish": owner and job.owner_id is not None,
        "experimental": model_pages.experimental(job.model_key),
        **(_next_steps(job, siblings) if owner and succeeded else {}),
        "share_url": request.build_absolute_uri(reverse("colorize:shared", args=[job.share_token]))
        if owner and job.share_token
        else "",
        **extra,
    }


def _next_steps(job: Job, siblings: list) -> dict:
    """What the owner of a result can do next from its page: run it again at another strength,
    try another model on the photo, step through the other results of the submission (the ids
    of its jobs, in order)."""
    strength = model_pages.strength_choices(job)
    at = siblings.index(job.id) if job.id in siblings else -1
    return {
        "strength": strength,
        "other_models": [
            choice
            for choice in model_pages.upload_choices()
            if choice.installed
            and choice.spec.key != job.model_key
            and not choice.spec.missing_required({})
            and (choice.spec.video or not job.is_video)
        ],
        "previous_job": siblings[at - 1] if at > 0 else None,
        "next_job": siblings[at + 1] if 0 <= at < len(siblings) - 1 else None,
        "position": (at + 1, len(siblings)) if len(siblings) > 1 else None,
    }


def job_detail(request: HttpRequest, job_id) -> HttpResponse:
    job = _job_or_404(request, job_id)
    return render(request, "colorize/job.html", _job_context(request, job))


def job_status(request: HttpRequest, job_id) -> JsonResponse:
    job = _job_or_404(request, job_id)
    owner = access.is_owner(job, request.user, _session_key(request))
    return JsonResponse(_job_json(job, owner=owner))


def _image_format(request: HttpRequest) -> str:
    return "jpeg" if request.GET.get("format") == "jpeg" else ""


def job_original(request: HttpRequest, job_id) -> HttpResponse:
    """The original: as sent to its owner, without its metadata to anyone else (downloads)."""
    job = _job_or_404(request, job_id)
    download = request.GET.get("download") == "1"
    owner = access.is_owner(job, request.user, _session_key(request))
    found = downloads.original(job, owner=owner, image_format=_image_format(request),
                               as_sent=download)  # fmt: skip
    return found.response(attachment=download)


def _result_job(request: HttpRequest, job_id) -> Job:
    job = _job_or_404(request, job_id)
    if not job.has_result:
        raise Http404("This job has no result yet.")
    return job


def job_result(request: HttpRequest, job_id) -> HttpResponse:
    job = _result_job(request, job_id)
    owner = access.is_owner(job, request.user, _session_key(request))
    found = downloads.result(job, owner=owner, image_format=_image_format(request))
    return found.response(attachment=request.GET.get("download") == "1")


def job_side_by_side(request: HttpRequest, job_id) -> HttpResponse:
    """Original | colorized in one JPEG, to download or post as one picture."""
    job = _result_job(request, job_id)
    owner = access.is_owner(job, request.user, _session_key(request))
    return downloads.side_by_side(job, owner=owner).response(attachment=True)


def job_reference(request: HttpRequest, job_id) -> HttpResponse:
    job = _job_or_404(request, job_id)
    owner = access.is_owner(job, request.user, _session_key(request))
    found = downloads.reference(job, owner=owner)
    return found.response(attachment=request.GET.get("download") == "1")


def job_thumbnail(request: HttpRequest, job_id, kind: str) -> HttpResponse:
    if kind not in ("original", "result"):
        raise Http404("No such image.")
    job = _result_job(request, job_id) if kind == "result" else _job_or_404(request, job_id)
    response = HttpResponse(downloads.thumbnail_of(job, kind), content_type="image/jpeg")
    response["Cache-Control"] = downloads.thumbnail_cache_control(job)
    return response


def _error_status(exc: Refusal) -> int:
    # 429 only when waiting helps (a quota that frees up later); 400 for everything else.
    return 429 if isinstance(exc, QuotaExceeded) and exc.retry_after else 400


def _with_retry_after(response: HttpResponse, exc: Refusal) -> HttpResponse:
    if isinstance(exc, QuotaExceeded) and exc.retry_after:
        response["Retry-After"] = str(exc.retry_after)
    return response


def _render_job_error(
    request: HttpRequest, job: Job, message: str, *, status: int = 400
) -> HttpResponse:
    return render(
        request, "colorize/job.html", _job_context(request, job, error=message), status=status
    )


def _to_new_job(request: HttpRequest, job: Job, start: Callable[[], Job]) -> HttpResponse:
    """Queue a new job from a result's page (`start` calls the service): its page, or the
    result's page again with the reason it was refused."""
    try:
        new_job = start()
    except Refusal as exc:
        response = _render_job_error(request, job, exc.message, status=_error_status(exc))
        return _with_retry_after(response, exc)
    return redirect("colorize:job", job_id=new_job.id)


@require_POST
def job_rerun(request: HttpRequest, job_id) -> HttpResponse:
    job = _own_job_or_404(request, job_id)
    params = _params_from(request.POST, job.model_key)
    address = client_address(request)
    return _to_new_job(
        request, job, lambda: running.job_rerun(job=job, params=params, client_address=address)
    )


@require_POST
def job_try_model(request: HttpRequest, job_id) -> HttpResponse:
    """The same photo through another model (from the result page)."""
    job = _own_job_or_404(request, job_id)
    model_key, address = request.POST.get("model", ""), client_address(request)
    return _to_new_job(
        request,
        job,
        lambda: running.job_try_model(job=job, model_key=model_key, client_address=address),
    )


@require_POST
def job_refine(request: HttpRequest, job_id) -> HttpResponse:
    """Repaint a result with the colour strokes painted on it (the scribbles model)."""
    job = _own_job_or_404(request, job_id)
    strokes, address = request.POST.get("strokes", ""), client_address(request)
    return _to_new_job(
        request, job, lambda: running.job_refine(job=job, hints=strokes, client_address=address)
    )


@require_POST
def job_retry(request: HttpRequest, job_id) -> HttpResponse:
    job = _own_job_or_404(request, job_id)
    try:
        running.job_retry(job=job)
    except Refusal as exc:
        return _render_job_error(request, job, exc.message)
    return redirect(_next_or(request, reverse("colorize:job", args=[job.id])))


@require_POST
def job_publish(request: HttpRequest, job_id) -> HttpResponse:
    job = _own_job_or_404(request, job_id)
    try:
        sharing.job_publish(job=job)
    except Refusal as exc:
        return _render_job_error(request, job, exc.message)
    messages.success(request, "Published: the photo is now in the public gallery.")
    return redirect(_next_or(request, reverse("colorize:job", args=[job.id])))


@require_POST
def job_unpublish(request: HttpRequest, job_id) -> HttpResponse:
    job = _own_job_or_404(request, job_id)
    sharing.job_unpublish(job=job)
    messages.success(request, "Withdrawn: the photo is no longer in the public gallery.")
    return redirect(_next_or(request, reverse("colorize:job", args=[job.id])))


@require_POST
def job_share(request: HttpRequest, job_id) -> HttpResponse:
    """Give the job an unlisted share link (any owner, anonymous ones included)."""
    job = _own_job_or_404(request, job_id)
    try:
        sharing.job_share(job=job)
    except Refusal as exc:
        return _render_job_error(request, job, exc.message)
    messages.success(request, "Share link made: anyone who has it can see this photo.")
    return redirect("colorize:job", job_id=job.id)


@require_POST
def job_unshare(request: HttpRequest, job_id) -> HttpResponse:
    job = _own_job_or_404(request, job_id)
    sharing.job_unshare(job=job)
    messages.success(request, "Share link turned off: it now leads nowhere.")
    return redirect("colorize:job", job_id=job.id)


@require_POST
def job_delete(request: HttpRequest, job_id) -> HttpResponse:
    job = _own_job_or_404(request, job_id)
    storage.job_delete(job=job)
    messages.success(request, "Deleted, with its files.")
    default = reverse("colorize:history" if request.user.is_authenticated else "colorize:home")
    return redirect(_next_or(request, default))
