"""What a share link shows to anyone who has it: the before/after page and its images.

Every address here carries the link's token and checks it on each request (colorize.selectors
.access.shared_job), so revoking a link, a moderator hiding the photo or the photo expiring
turns all of them into 404 at once. Visitors are never the owner: the original they get is the
metadata-free web rendition, downloads have neutral names, and the file name is never shown.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from .models import Job
from .selectors import access, downloads, films, model_pages

# Revalidated on every use, and kept out of shared caches and search engines: the link is
# unlisted and can be revoked at any moment.
SHARED_CACHE = "private, no-cache"


def _shared_or_404(token: str) -> Job:
    job = access.shared_job(token=token)
    if job is None:
        raise Http404("No such share link.")
    return job


def _unlisted(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = SHARED_CACHE
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _image_format(request: HttpRequest) -> str:
    return "jpeg" if request.GET.get("format") == "jpeg" else ""


@require_safe
def shared_page(request: HttpRequest, token: str) -> HttpResponse:
    job = _shared_or_404(token)
    spec = model_pages.spec_or_none(job.model_key)
    context = {
        "job": job,
        "spec": spec,
        "model_name": model_pages.job_label(job),
        "token": token,
        # Link previews (Open Graph) need absolute addresses.
        "page_url": request.build_absolute_uri(reverse("colorize:shared", args=[token])),
        "preview_url": request.build_absolute_uri(reverse("colorize:shared-preview", args=[token])),
    }
    return _unlisted(render(request, "colorize/shared.html", context))


@require_safe
def shared_result(request: HttpRequest, token: str) -> HttpResponse:
    job, attachment = _shared_or_404(token), request.GET.get("download") == "1"
    if job.is_video and not _image_format(request):  # a film: its MP4, with byte ranges
        found = films.film_file(job, "result", owner=False)
        return _unlisted(films.film_response(request, *found, attachment=attachment))
    found = downloads.result(job, owner=False, image_format=_image_format(request))
    return _unlisted(found.response(attachment=attachment))


@require_safe
def shared_original(request: HttpRequest, token: str) -> HttpResponse:
    """The original without its metadata (owner=False: never the file as sent)."""
    job = _shared_or_404(token)
    found = downloads.original(job, owner=False, image_format=_image_format(request))
    return _unlisted(found.response(attachment=request.GET.get("download") == "1"))


@require_safe
def shared_preview(request: HttpRequest, token: str) -> HttpResponse:
    """The image a pasted link's preview shows: the original beside the result."""
    response = HttpResponse(
        downloads.before_after(_shared_or_404(token)), content_type="image/jpeg"
    )
    return _unlisted(response)
