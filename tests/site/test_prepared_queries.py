"""Sessions and users read with SQL compiled once (coloria_site.prepared): the same answers as
Django's own queries, expired sessions and inactive users included."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.backends import EmailOrUsernameBackend
from coloria_site import sessions
from coloria_site.prepared import PreparedQuery

pytestmark = pytest.mark.django_db


def test_a_live_session_is_read_with_the_prepared_sql() -> None:
    store = sessions.SessionStore()
    store["colour"] = "sepia"
    store.save()
    again = sessions.SessionStore(store.session_key)
    assert again["colour"] == "sepia"
    assert again.session_key == store.session_key
    assert all(compiled is not None for compiled in sessions._LIVE_SESSION._compiled.values())


def test_an_expired_or_unknown_session_reads_as_empty() -> None:
    store = sessions.SessionStore()
    store["colour"] = "sepia"
    store.save()
    Session.objects.filter(pk=store.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    expired = sessions.SessionStore(store.session_key)
    assert "colour" not in expired
    assert expired.session_key is None
    unknown = sessions.SessionStore("x" * 32)
    assert dict(unknown.items()) == {}
    assert unknown.session_key is None


def test_users_are_found_unless_inactive_or_unknown(make_user) -> None:
    backend = EmailOrUsernameBackend()
    user = make_user("ann")
    assert backend.get_user(user.pk) == user
    assert backend.get_user(user.pk).email == "ann@example.com"
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert backend.get_user(user.pk) is None
    assert backend.get_user(user.pk + 1000) is None


def test_a_query_whose_values_cannot_be_placed_is_compiled_each_time() -> None:
    store = sessions.SessionStore()
    store.save()
    listed = PreparedQuery(
        Session,
        lambda key: Session.objects.filter(session_key__startswith=key),
        fields=("session_key",),
        stand_ins=(("stand-in",), ("other-stand-in",)),
    )
    assert listed.first(store.session_key).session_key == store.session_key
    assert list(listed._compiled.values()) == [None]
