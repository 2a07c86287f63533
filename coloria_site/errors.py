"""The site's own error answers: JSON under /api/ (scripts parse them), pages elsewhere.

DRF answers errors raised in its views; these handlers answer what never reaches a view (an
address that matches no route, a request refused as malformed) and a form refused for CSRF.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            {"detail": "No such address in the API; /api/v1/schema lists them all."}, status=404
        )
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            {"detail": "The request was refused as malformed (for example too many fields)."},
            status=400,
        )
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            {"detail": "Something went wrong on the server; it has been logged."}, status=500
        )
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form posted from a page that is too old, or without the site's cookie (settings:
    CSRF_FAILURE_VIEW). Said plainly, with the way back; the reason stays in the log."""
    return render(request, "403_csrf.html", status=403)
