"""A film's files and its owner's cancel (issue #24): thin views over colorize.selectors.films
and colorize.services.running; the film's page is the job page (views.job_detail)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from .selectors import access, films
from .services import running
from .views import _job_or_404, _own_job_or_404, _session_key


@require_GET
def job_film(request: HttpRequest, job_id, which: str) -> HttpResponse:
    """The original film (its owner's), the colorized MP4 or its poster, with byte ranges."""
    if which not in ("original", "result", "poster"):
        raise Http404("No such file.")
    job = _job_or_404(request, job_id)
    owner = access.is_owner(job, request.user, _session_key(request))
    file, content_type, filename = films.film_file(job, which, owner=owner)
    attachment = request.GET.get("download") == "1"
    return films.film_response(request, file, content_type, filename, attachment=attachment)


@require_POST
def job_cancel(request: HttpRequest, job_id) -> HttpResponse:
    """Stop a queued or running job (its owner): it fails as "Cancelled."; Try again resumes."""
    job = _own_job_or_404(request, job_id)
    running.job_cancel(job=job)
    return redirect("colorize:job", job_id=job.id)
