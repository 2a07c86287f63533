"""Sign-in: an email address or a username with its password, refused while rate-limited."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from . import services


class EmailOrUsernameBackend(ModelBackend):
    """Django's ModelBackend (inactive users refused, permissions), which also finds accounts by
    email address, and refuses everyone while too many sign-ins failed for the name or the
    address (except from a device that signed in to the account before). Every sign-in form
    goes through it: the site's, the admin's, `Client.login`."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any | None:
        model = get_user_model()
        if username is None:
            username = kwargs.get(model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        if services.login_blocked(username=username, request=request):
            # Stops every backend: even the right password waits for the window to pass
            # (unless this browser signed in to the account before: see services).
            raise PermissionDenied
        user = services.user_for_login(username)
        if user is None:
            # As long as a wrong password takes: the time does not tell who has an account.
            model().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def get_user(self, user_id: Any) -> Any | None:
        """ModelBackend's (the user, unless inactive), its query prepared: every signed-in
        request reads its user (coloria_site.prepared)."""
        user = services.user_by_pk(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
