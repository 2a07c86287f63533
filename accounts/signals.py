"""Sign-in events feed the rate limit (accounts.services); connected in AccountsConfig.ready."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from . import services


@receiver(user_login_failed, dispatch_uid="coloria-login-failed")
def count_failed_login(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    services.login_failure_record(username=str(credentials.get("username") or ""), request=request)


@receiver(user_logged_in, dispatch_uid="coloria-logged-in")
def forgive_failed_logins(sender: Any, user: Any, request: Any = None, **kwargs: Any) -> None:
    services.login_failures_clear(user=user)
    if request is not None and not services.trusted_device(request, user):
        # This browser is now a device that signed in to the account (DeviceCookieMiddleware
        # sets the cookie on the response).
        request.coloria_device_cookie = services.device_cookie_value(user)
