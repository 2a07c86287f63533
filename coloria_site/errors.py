"""The site's own page for a refused form (CSRF), so a stale page does not end on Django's."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form posted from a page that is too old, or without the site's cookie (settings:
    CSRF_FAILURE_VIEW). Said plainly, with the way back; the reason stays in the log."""
    return render(request, "403_csrf.html", status=403)
