"""Signing in keeps what the visitor colorized before (expiry.claim_anonymous_work).

Connected in ColorizeConfig.ready. Django's login() gives the session a new key but keeps its
data, so the key the anonymous work was stored under is read from the session itself.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .services import expiry


@receiver(user_logged_in, dispatch_uid="coloria-claim-anonymous-work")
def keep_anonymous_work(sender: Any, user: Any, request: Any = None, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    session_key = request.session.pop(expiry.ANONYMOUS_SESSION, "")
    claimed = expiry.claim_anonymous_work(user=user, session_key=session_key)
    if claimed:
        results = "result" if claimed == 1 else "results"
        messages.info(
            request, f"Kept in your history: {claimed} {results} you colorized before signing in."
        )
