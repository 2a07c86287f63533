"""Times as people say them: "sent just now", "5 minutes ago", "deleted in 8 minutes".

Django's `timesince` says "0 minutes" for a photo sent a second ago; these say "just now".
Load with `{% load wording %}`: `{{ batch.created_at|ago }}`, `{{ upload.expires_at|from_now }}`.
"""

from __future__ import annotations

import math
from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.formats import date_format

register = template.Library()

MINUTE, HOUR, DAY = 60, 3600, 86400


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}{'' if number == 1 else 's'}"


def time_ago(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago `moment` was: "just now" under a minute, then minutes, hours, days, and the
    date itself after a week ("on 5 Dec 2026")."""
    if moment is None:
        return ""
    seconds = ((now or timezone.now()) - moment).total_seconds()
    if seconds < MINUTE:
        return "just now"  # a clock a second ahead must not say "in the future"
    if seconds < HOUR:
        return f"{_count(int(seconds // MINUTE), 'minute')} ago"
    if seconds < DAY:
        return f"{_count(int(seconds // HOUR), 'hour')} ago"
    if seconds < 2 * DAY:
        return "yesterday"
    if seconds < 7 * DAY:
        return f"{_count(int(seconds // DAY), 'day')} ago"
    return "on " + date_format(timezone.localtime(moment), "j M Y")


def time_until(moment: datetime | None, now: datetime | None = None) -> str:
    """How long until `moment`: "in 8 minutes", "in less than a minute", "any moment now" once
    it has passed (anonymous photos go at the next clean-up, not to the second)."""
    if moment is None:
        return ""
    seconds = (moment - (now or timezone.now())).total_seconds()
    if seconds <= 0:
        return "any moment now"
    if seconds < MINUTE:
        return "in less than a minute"
    # Rounded up: a photo due in 9 min 59 s is "in 10 minutes", as its page promised (the
    # clean-up runs once a minute, so it goes at most a minute after its time anyway).
    minutes = math.ceil(seconds / MINUTE)
    if minutes < 60:
        return f"in {_count(minutes, 'minute')}"
    if seconds < DAY:
        return f"in {_count(int(seconds // HOUR), 'hour')}"
    return f"in {_count(int(seconds // DAY), 'day')}"


register.filter("ago", time_ago)
register.filter("from_now", time_until)
