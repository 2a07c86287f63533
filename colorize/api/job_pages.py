"""The API's job list (GET /jobs): a caller's jobs, and its first pages read with SQL compiled
once per process (coloria_site.prepared): scripts poll the newest jobs far more than they page
back, and building and compiling that query was a fifth of the request's cost."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from coloria_site.prepared import PreparedQuery

from ..models import Job
from .serializers import JobSerializer

# The paginator's order (JobPagination.ordering), the only one a first page is prepared for.
NEWEST_FIRST = "-queued_at"
# Page sizes 1 to 100 (JobPagination.max_page_size): one query each, with the extra job that
# tells whether a next page exists.
_MAX_KEPT = 101
_first_pages: dict[int, PreparedQuery] = {}


def owner_jobs(user: Any) -> QuerySet[Job]:
    """A caller's jobs, with the columns the job JSON reads (JobSerializer.COLUMNS)."""
    jobs = Job.objects.filter(owner=user).select_related("upload", "result")
    return jobs.only(*JobSerializer.COLUMNS)


def _first_page(size: int) -> PreparedQuery:
    if size not in _first_pages:
        _first_pages[size] = PreparedQuery(
            Job,
            lambda pk: owner_jobs(get_user_model()(pk=pk)).order_by(NEWEST_FIRST)[:size],
            fields=("owner",),
            stand_ins=((1,), (2,)),
        )
    return _first_pages[size]


class FirstPages:
    """A caller's unfiltered `owner_jobs`, as CursorPagination reads them: ordered newest first
    and sliced from the start (a first page), it runs a prepared query; anything else (another
    order, a cursor's position) is the QuerySet's to answer."""

    def __init__(self, user: Any) -> None:
        self.user, self.ordering = user, ()

    def _queryset(self) -> QuerySet[Job]:
        return owner_jobs(self.user).order_by(*self.ordering)

    def order_by(self, *fields: str) -> Any:
        if fields != (NEWEST_FIRST,):
            return owner_jobs(self.user).order_by(*fields)
        self.ordering = fields
        return self

    def filter(self, *args: Any, **kwargs: Any) -> QuerySet[Job]:
        return self._queryset().filter(*args, **kwargs)

    def __getitem__(self, part: slice) -> Any:
        first = self.ordering and part.start in (0, None) and part.step is None
        if first and part.stop is not None and 0 < part.stop <= _MAX_KEPT:
            return _first_page(part.stop).all(self.user.pk)
        return self._queryset()[part]
