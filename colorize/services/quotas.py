"""Daily quotas: how many jobs (one photo through one model) an account or an anonymous client
may queue per rolling 24 hours, counted in a ledger that deleting photos does not shrink."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.utils import timezone
from django.utils.crypto import salted_hmac

from ..models import Usage
from .errors import QuotaExceeded

log = logging.getLogger(__name__)


QUOTA_WINDOW = timedelta(hours=24)


def full_quota(owner: Any) -> bool:
    """Whether an account has the account quota: staff, and accounts that verified their email
    address (the accounts app grants them this permission); others have the anonymous one."""
    return bool(owner.is_staff or owner.has_perm("colorize.full_daily_quota"))


def quota_limit(*, owner: Any) -> int:
    """Jobs allowed per rolling 24 hours for an account (owner) or an anonymous client; 0: none."""
    if owner is not None and full_quota(owner):
        return settings.COLORIA_DAILY_JOBS_PER_USER
    return settings.COLORIA_DAILY_JOBS_PER_ANONYMOUS


def quota_client(*, owner: Any, address: str = "", session_key: str = "") -> str:
    """The ledger key of an anonymous client: a keyed hash of its address, or of its session
    when the address is unknown (addresses are personal data: never stored as such).

    "" for accounts (counted by owner) and for internal callers that know neither."""
    if owner is not None:
        return ""
    identity = f"address:{address}" if address else f"session:{session_key}" if session_key else ""
    if not identity:
        return ""
    return salted_hmac("coloria.quota", identity, algorithm="sha256").hexdigest()


def _usage(*, owner: Any, client: str, since: datetime) -> Any:
    rows = Usage.objects.filter(created_at__gt=since)
    if owner is not None:
        return rows.filter(owner=owner)
    return rows.filter(owner__isnull=True, client=client)


@dataclass(frozen=True)
class QuotaStatus:
    limit: int  # 0: no quota
    used: int

    @property
    def remaining(self) -> int | None:
        return None if not self.limit else max(0, self.limit - self.used)


def quota_status(
    *, owner: Any = None, client: str = "", now: datetime | None = None
) -> QuotaStatus:
    """How much of the daily quota an account (or anonymous client) has used."""
    now = now or timezone.now()
    used = _usage(owner=owner, client=client, since=now - QUOTA_WINDOW).aggregate(n=Sum("jobs"))
    return QuotaStatus(limit=quota_limit(owner=owner), used=used["n"] or 0)


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%d %b %Y, %H:%M %Z").lstrip("0")


def quota_check(*, owner: Any, client: str, jobs: int, now: datetime | None = None) -> None:
    """Raise QuotaExceeded if `jobs` more jobs would go over the daily quota."""
    limit = quota_limit(owner=owner)
    if not limit or (owner is None and not client):
        return
    now = now or timezone.now()
    signup = "" if owner is not None else " Sign up for a free account to send more."
    if jobs > limit:
        raise QuotaExceeded(
            f"This asks for {jobs} jobs (photos × models), more than the daily limit of {limit}. "
            f"Send fewer photos or choose one model.{signup}",
            retry_after=None,
        )
    rows = list(
        _usage(owner=owner, client=client, since=now - QUOTA_WINDOW)
        .order_by("created_at")
        .values_list("created_at", "jobs")
    )
    used = sum(count for _, count in rows)
    if used + jobs <= limit:
        return
    # The moment enough of the window's usage has aged out for this request to fit.
    excess, freed, free_at = used + jobs - limit, 0, now + QUOTA_WINDOW
    for created_at, count in rows:
        freed += count
        if freed >= excess:
            free_at = created_at + QUOTA_WINDOW
            break
    if owner is None:
        who = "Without an account, one address"
    elif full_quota(owner):
        who = "Your account"
    else:
        who = "Until it verifies its email address (the link we sent), your account"
        signup = (
            f" Verified accounts may queue {settings.COLORIA_DAILY_JOBS_PER_USER}: ask for a "
            "new link on your account page."
        )
    raise QuotaExceeded(
        f"Daily limit reached. {who} may queue {limit} jobs (one photo through one model) per "
        f"24 hours; {used} are used and this needs {jobs}. Try again after {_when(free_at)}."
        f"{signup}",
        retry_after=max(1, math.ceil((free_at - now).total_seconds())),
    )


def quota_charge(*, owner: Any, client: str, jobs: int) -> None:
    """Record the jobs (inside the caller's transaction), checking again under it: another
    request may have used the quota since the first check."""
    if owner is None and not client:
        return
    if owner is not None:
        # Serialises one account's concurrent submissions on PostgreSQL (SQLite's immediate
        # transactions already do); anonymous clients may overshoot by one submission.
        get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
    quota_check(owner=owner, client=client, jobs=jobs)
    Usage.objects.create(owner=owner, client=client, jobs=jobs)


def purge_old_usage(now: datetime | None = None) -> int:
    """Forget quota usage older than the window (run with the expiry schedule)."""
    deleted, _ = Usage.objects.filter(
        created_at__lte=(now or timezone.now()) - QUOTA_WINDOW
    ).delete()
    return deleted
