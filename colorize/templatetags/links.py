"""`{% link 'colorize:job' job.id %}`: what `{% url %}` gives, quicker (colorize.links), for the
pages that list many links. Load with `{% load links %}`; `as name` stores it instead. Also
`{% site_nav %}`: base.html's main navigation, kept once rendered (see below)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import get_script_prefix, get_urlconf
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from ..links import path_to

register = template.Library()


@register.simple_tag
def link(name: str, *args: Any) -> str:
    return path_to(name, *args)


# The main navigation, once rendered for signed-in visitors: by the page (its URL name and app),
# whether the visitor is staff and where the site is mounted (what its links and marks read);
# its sign-out form's CSRF token, which changes with each response, is put in each time.
_NAV = "includes/site_nav.html"
_CSRF_STAND_IN = "site-nav-csrf-stand-in"
_NO_CSRF = "NOTPROVIDED"  # the csrf context processor's value when there is no token
_MAX_NAVS_KEPT = 256
_navs: dict[tuple, str] = {}


@register.simple_tag(takes_context=True)
def site_nav(context: template.Context) -> SafeString:
    """templates/includes/site_nav.html, as an include of it gives (without the file's last
    line break). Its links, `{% if %}`s and sign-out form were a tenth of a page's rendering;
    an anonymous visitor's (a sign-in link back to the page) is rendered each time."""
    nav = context.template.engine.get_template(_NAV)
    request, user, csrf = context.get("request"), context.get("user"), context.get("csrf_token")
    signed_in = request is not None and getattr(user, "is_authenticated", False)
    if not signed_in or not csrf or csrf == _NO_CSRF:  # as {% csrf_token %} reads it
        return mark_safe(nav.render(context).removesuffix("\n"))  # noqa: S308 (a template's)
    match = request.resolver_match
    key = (
        *(getattr(match, "url_name", None), getattr(match, "app_name", None), user.is_staff),
        *(get_script_prefix(), get_urlconf()),
    )
    html = _navs.get(key)
    if html is None:
        with context.push(csrf_token=_CSRF_STAND_IN):
            html = nav.render(context).removesuffix("\n")
        if len(_navs) < _MAX_NAVS_KEPT:
            _navs[key] = html
    # The token as `{% csrf_token %}` gives it (reading it has the response set its cookie).
    return mark_safe(html.replace(_CSRF_STAND_IN, conditional_escape(csrf)))  # noqa: S308
