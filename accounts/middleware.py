"""Hands a browser that just signed in its device cookie (accounts.services: trusted devices)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from . import services


class DeviceCookieMiddleware:
    """Sets the cookie that `user_logged_in` prepared, whichever sign-in form was used (the
    site's, the admin's)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        value = getattr(request, "coloria_device_cookie", "")
        if value:
            response.set_cookie(
                services.DEVICE_COOKIE,
                value,
                max_age=services.DEVICE_MAX_AGE,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
