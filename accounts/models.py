"""Accounts, on Django's auth: API tokens for scripts and the suspensions moderators decide."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A named key for the REST API. Only a hash of the key is stored: a database leak does not
    leak usable keys, and the owner sees the key once, when it is created."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8)  # the key's first characters, to tell tokens apart
    key_hash = models.CharField(max_length=64, unique=True)  # sha256 of the key, hex
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AccountStatus(models.Model):
    """Whether a moderator suspended an account, and why.

    Suspending also clears the user's `is_active`, so Django's own machinery refuses them
    everywhere at once (sign-in, existing sessions, the admin, password reset, API tokens)
    while their content stays. This row keeps the reason and who decided, for the clear message
    at sign-in and for reinstating. No row means the account was never suspended.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_status"
    )
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_reason = models.CharField(max_length=500, blank=True)
    suspended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,  # the decision stands if the moderator's account goes
        related_name="+",
    )

    class Meta:
        verbose_name = "account status"
        verbose_name_plural = "account statuses"

    def __str__(self) -> str:
        return f"{self.user} ({'suspended' if self.is_suspended else 'active'})"

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None
