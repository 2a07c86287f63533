"""base.html's `{% site_nav %}` (colorize/templatetags/links.py) keeps a signed-in visitor's
navigation once rendered: it must stay what including its template gives, for every visitor
and page, with each response's own CSRF token."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.middleware.csrf import _unmask_cipher_token, get_token
from django.template import engines
from django.test import RequestFactory
from django.urls import resolve

pytestmark = pytest.mark.django_db

TAG = engines["django"].from_string("{% load links %}{% site_nav %}")
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
INCLUDE = engines["django"].from_string('{% include "includes/site_nav.html" %}')


def _request(path: str, user):
    request = RequestFactory().get(path)
    request.user = user
    request.resolver_match = resolve(path) if path != "/nope/" else None
    return request


@pytest.mark.parametrize("path", ["/", "/history/", "/gallery/", "/accounts/profile/", "/nope/"])
def test_it_is_what_the_include_gives(make_user, path) -> None:
    visitors = (make_user("ann"), make_user("mod", is_staff=True), AnonymousUser())
    for user in visitors:
        for _ in range(2):  # the second time from what was kept
            request = _request(path, user)
            tagged = TAG.render({}, request)
            included = INCLUDE.render({}, request).removesuffix("\n")
            # Each reading of the token masks the request's secret anew.
            assert TOKEN.sub("token", tagged) == TOKEN.sub("token", included)
            if user.is_authenticated:
                secret = _unmask_cipher_token(TOKEN.search(tagged).group(1))
                assert (
                    secret
                    == request.META["CSRF_COOKIE"]
                    == _unmask_cipher_token(get_token(request))
                )
                assert ("Admin" in tagged) == user.is_staff
                assert request.META["CSRF_COOKIE_NEEDS_UPDATE"]  # the response renews it


def test_each_response_gets_its_own_token(make_user) -> None:
    ann = make_user("ann")
    tokens = set()
    for _ in range(3):
        html = TAG.render({}, _request("/history/", ann))
        tokens.update(TOKEN.findall(html))
    assert len(tokens) == 3
