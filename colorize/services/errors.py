"""The refusals of colorize's services, each a `coloria_site.refusals.Refusal` with a message for
the person who asked."""

from __future__ import annotations

from coloria_site.refusals import Refusal


class SubmissionError(Refusal):
    """A submission (or an owner's action on a job) was refused; `field` is the form field it
    concerns ("images" by default)."""

    def __init__(self, message: str, *, field: str = "images") -> None:
        super().__init__(message, field=field)


class QuotaExceeded(SubmissionError):
    """A daily quota is used up; `retry_after` says in how many seconds enough of it is free
    again (None: this request can never fit, e.g. it asks for more than the whole quota)."""

    def __init__(self, message: str, *, retry_after: int | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModerationError(Refusal):
    """A moderation action was refused; the message says why, for the moderator."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
