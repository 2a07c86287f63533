"""`{% link 'colorize:job' job.id %}`: what `{% url %}` gives, quicker (colorize.links), for the
pages that list many links. Load with `{% load links %}`; `as name` stores it instead."""

from __future__ import annotations

from typing import Any

from django import template

from ..links import path_to

register = template.Library()


@register.simple_tag
def link(name: str, *args: Any) -> str:
    return path_to(name, *args)
