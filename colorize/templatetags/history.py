"""`{% history_groups page_obj.object_list %}`: the history page's submissions and their tiles.

The same HTML as a template loop with includes would give, built in Python: a history page
shows up to 8 submissions of several tiles each, and the template engine spent about 0.5 ms a
tile resolving variables, rendering the status badge's include and each tile's five links
(see scripts/page-cost --profile). What is the same for every tile (the addresses' shapes, the
CSRF token, the time "now", the page to come back to after a delete) is worked out once a page.
Load with `{% load history %}`."""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from ..links import address_maker
from ..models import Job
from .wording import time_ago

register = template.Library()

_NO_AFTER = (
    '<span class="thumb-placeholder"><span class="badge-icon" aria-hidden="true"></span></span>'
)
_HIDDEN = '<span class="tag tag-hidden">Hidden by a moderator</span>'
_PUBLIC = '<span class="tag tag-public">In the gallery</span>'


def escape(value: Any) -> str:
    """What Django's conditional_escape gives (a safe string as it is, anything else through
    html.escape, as its `escape` does), without its check of each call for lazy strings: a
    history page escapes some 140 values, and that check was most of their cost."""
    safe = getattr(value, "__html__", None)
    return safe() if safe is not None else html.escape(str(value))


def status_badge(job: Job) -> SafeString:
    """What templates/colorize/includes/badge.html gives (site.js updates its text)."""
    return mark_safe(  # noqa: S308 (the one value is escaped)
        '<span class="badge" data-role="status"><span class="badge-icon" aria-hidden="true">'
        f'</span><span data-role="status-text">{escape(job.get_status_display())}</span></span>'
    )


def sent_summary(photos: int, results: int, sent_at: datetime, now: datetime) -> SafeString:
    """What templates/colorize/includes/sent_summary.html gives: "2 photos · 3 results · sent
    5 minutes ago" (the results only when they are not one a photo)."""
    counted = f"{photos} photo{'' if photos == 1 else 's'}"
    if results != photos:
        counted += f" · {results} results"
    at, ago = escape(timezone.localtime(sent_at).isoformat()), escape(time_ago(sent_at, now))
    return mark_safe(f'{escape(counted)} · sent <time datetime="{at}">{ago}</time>\n')  # noqa: S308


class _Page:
    """What every tile of one history page shares."""

    def __init__(self, context: template.Context) -> None:
        # The CSRF token: the one every form of this page has (the same masked value as the
        # page's `{% csrf_token %}` tags give, which Django works out once a page).
        self.csrf = escape(context.get("csrf_token", ""))
        self.next = escape(context.get("this_page", ""))
        self.now = timezone.now()
        # Addresses as `{% link %}` gives them; reverse() quotes what is not safe in a URL, so
        # they need no HTML escaping (`{% link %}`'s autoescape left them as they are).
        self.batch = address_maker("colorize:batch")
        self.job = address_maker("colorize:job")
        self.original = address_maker("colorize:job-thumbnail", str, "original")
        self.result = address_maker("colorize:job-thumbnail", str, "result")
        self.download = address_maker("colorize:job-result")
        self.delete = address_maker("colorize:job-delete")

    def tile(self, job: Job) -> str:
        """One tile's HTML: f-strings over escaped values (format_html escapes every argument
        again, safe or not, and a tile has sixteen)."""
        upload, job_id = job.upload, job.id
        name = upload.original_name
        model = escape(job.model_name)
        size = f'width="{escape(upload.width)}" height="{escape(upload.height)}"'
        if job.has_result:
            after = f'<img src="{self.result(job_id)}" alt="After" loading="lazy" {size}>'
            download = (
                f'<a href="{self.download(job_id)}?download=1" download aria-label="Download the '
                f'result of {escape(name or "this photo")} ({model})">Download</a>'
            )
        else:
            after, download = _NO_AFTER, ""
        tag = _HIDDEN if job.is_hidden else _PUBLIC if job.is_published else ""
        return f"""
    <li class="card tile" data-status="{escape(job.status)}">
      <a href="{self.job(job_id)}" class="tile-link">
        <span class="pair tile-pair">
          <img src="{self.original(job_id)}" alt="Before" loading="lazy" {size}>
          {after}
        </span>
        <h3 class="tile-title">{escape(name or "Photo")}</h3>
      </a>
      <p class="muted">{model}</p>
      <p>{status_badge(job)}
        {tag}</p>
      <div class="tile-actions">
        {download}
        <form method="post" action="{self.delete(job_id)}" class="inline-form" \
data-confirm="Delete this photo and its files? This cannot be undone.">
          <input type="hidden" name="csrfmiddlewaretoken" value="{self.csrf}">\
<input type="hidden" name="next" value="{self.next}">
          <button type="submit" class="btn btn-danger btn-small" \
aria-label="Delete {escape(name or "photo")} ({model})">Delete</button>
        </form>
      </div>
    </li>"""

    def group(self, group: Any) -> str:
        batch = group.batch
        summary = sent_summary(group.photos, group.results, batch.created_at, self.now)
        tiles = "".join(self.tile(job) for job in group.jobs)
        return (
            f'<section class="history-group" aria-labelledby="group-{batch.id}">\n'
            f'  <h2 class="group-title" id="group-{batch.id}"><a href="{self.batch(batch.id)}">'
            f"{summary}</a></h2>\n"
            f'  <ul class="card-grid history-grid">{tiles}\n  </ul>\n</section>\n'
        )


@register.simple_tag(takes_context=True)
def history_groups(context: template.Context, groups: Iterable[Any]) -> SafeString:
    """The sections of a history page, one a submission (colorize.selectors.access.HistoryGroup)
    with a tile for each of its jobs."""
    page = _Page(context)
    # Safe: _Page escapes every value it puts in its f-strings (conditional_escape, as the
    # template's autoescape did); format_html would escape the finished tiles a second time.
    return mark_safe("".join(page.group(group) for group in groups))  # noqa: S308
