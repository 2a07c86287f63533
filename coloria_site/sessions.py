"""Sessions in the database, as Django's `db` engine keeps them, read with SQL compiled once
(coloria_site.prepared: every signed-in request reads its session)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.core.exceptions import SuspiciousOperation
from django.utils import timezone

from .prepared import PreparedQuery

_LIVE_SESSION = PreparedQuery(
    Session,
    lambda key, now: Session.objects.filter(session_key=key, expire_date__gt=now),
    fields=("session_key", "expire_date"),
    stand_ins=(
        ("stand-in", datetime(2000, 1, 1, tzinfo=UTC)),
        ("other-stand-in", datetime(2001, 1, 1, tzinfo=UTC)),
    ),
)


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Any:
        """Django's own (the session if it has not expired, else None and no key), its query
        prepared; only for the `Session` model (a subclass with its own model reads as Django
        does)."""
        if self.model is not Session:
            return super()._get_session_from_db()
        try:
            found = _LIVE_SESSION.first(self.session_key, timezone.now())
        except SuspiciousOperation as e:
            logging.getLogger(f"django.security.{e.__class__.__name__}").warning(str(e))
            found = None
        if found is None:
            self._session_key = None
        return found
