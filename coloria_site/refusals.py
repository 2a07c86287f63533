"""The one base of every refusal the web layer shows people: a submission, a quota, a moderation
action or an account action that was not done, with a message written for the person who asked
and the form field it concerns (None: the whole request). Views and the API catch this one type."""

from __future__ import annotations


class Refusal(Exception):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
