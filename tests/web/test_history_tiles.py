"""The history page builds its tiles in Python (colorize/templatetags/history.py): its status
badge and "sent" summary must stay what the includes the other pages use give."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from colorize.models import Job
from colorize.templatetags.history import sent_summary, status_badge


@pytest.mark.parametrize("status", Job.Status.values)
def test_the_status_badge_is_the_includes(status):
    job = Job(status=status)
    included = render_to_string("colorize/includes/badge.html", {"job": job})
    assert status_badge(job) == included.removesuffix("\n")  # the file's last line break


@pytest.mark.parametrize(("photos", "results"), [(1, 1), (2, 2), (1, 3), (4, 5)])
@pytest.mark.parametrize("ago", [timedelta(seconds=5), timedelta(hours=2), timedelta(days=9)])
def test_the_sent_summary_is_the_includes(photos, results, ago):
    now = timezone.now()
    sent_at = now - ago
    included = render_to_string(
        "colorize/includes/sent_summary.html",
        {"photos": photos, "results": results, "sent_at": sent_at},
    )
    assert sent_summary(photos, results, sent_at, now) == included


@pytest.mark.parametrize(
    "value",
    ["<script>\"a\" & 'b'</script>", "plain", 64, None, "", "é → ü"],
)
def test_its_escape_is_djangos(value):
    from django.utils.functional import lazy
    from django.utils.html import conditional_escape
    from django.utils.safestring import mark_safe

    from colorize.templatetags.history import escape

    assert escape(value) == conditional_escape(value)
    assert escape(mark_safe(str(value))) == conditional_escape(mark_safe(str(value)))
    lazy_value = lazy(lambda: str(value), str)()
    assert escape(lazy_value) == conditional_escape(lazy_value)
