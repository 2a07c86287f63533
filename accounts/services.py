"""Account actions: sign-up with email verification, sign-in rate limits (with trusted devices),
limits on sign-ups and emails, suspension by moderators, deleting an account, and API tokens
(created, looked up by the hash of their key, revoked)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from coloria_site.prepared import PreparedQuery
from coloria_site.ratelimit import Limit, client_address
from coloria_site.refusals import Refusal
from colorize.models import ModerationAction
from colorize.services.errors import ModerationError
from colorize.services.moderation import moderation_record
from colorize.services.storage import owner_content_delete

from .models import AccountStatus, ApiToken

# last_used_at is written at most this often: a script polling every second would otherwise
# write a row per request (and contend with the worker for SQLite's lock).
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def token_create(user: Any, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; returns it and its key, which is not stored and cannot be shown
    again."""
    raw_key = secrets.token_urlsafe(32)  # 256 random bits
    token = ApiToken.objects.create(
        user=user,
        name=name.strip()[:100] or "API token",
        prefix=raw_key[:8],
        key_hash=_hash(raw_key),
    )
    return token, raw_key


def token_revoke(token: ApiToken) -> ApiToken:
    """Revoke a token at once; revoking twice keeps the first time."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db()
    return token


# Every signed-in request reads its user, every API request its token: with SQL compiled once
# per process (coloria_site.prepared), which costs a fraction of the ORM's building it each time.
_LIVE_TOKEN = PreparedQuery(
    ApiToken,
    lambda key_hash: ApiToken.objects.filter(
        key_hash=key_hash, revoked_at__isnull=True, user__is_active=True
    ),
    fields=("key_hash",),
    stand_ins=(("0" * 64,), ("1" * 64,)),
)
_users_by_pk: dict[type, PreparedQuery] = {}


def user_by_pk(pk: Any) -> Any | None:
    """The user with this primary key (active or not), else None."""
    model = get_user_model()  # looked up each time: tests may swap the user model
    if model not in _users_by_pk:
        _users_by_pk[model] = PreparedQuery(
            model,
            lambda pk: model._default_manager.filter(pk=pk),
            fields=(model._meta.pk.name,),
            stand_ins=((model._meta.pk.to_python("1"),), (model._meta.pk.to_python("2"),)),
        )
    return _users_by_pk[model].first(pk)


def token_authenticate(raw_key: str) -> ApiToken | None:
    """The active token with this key, of an active user; None otherwise."""
    token = _LIVE_TOKEN.first(_hash(raw_key))
    # Its user, as select_related would have read it (the query above found it active).
    user = user_by_pk(token.user_id) if token is not None else None
    if token is None or user is None or not user.is_active:
        return None
    token.user = user
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def invalid_token_limit() -> Limit:
    """Requests with a token that is no token of ours, per client address."""
    return Limit("token-address", settings.COLORIA_INVALID_TOKENS_PER_ADDRESS, 10 * 60)


def token_of_inactive_user(raw_key: str) -> bool:
    """Whether this key is a live token of a suspended (or otherwise inactive) account."""
    return ApiToken.objects.filter(
        key_hash=_hash(raw_key), revoked_at__isnull=True, user__is_active=False
    ).exists()


# --- Sign-up and sign-in ----------------------------------------------------------------------


class AccountError(Refusal):
    """An account action was refused; the message is for the person who asked."""


def normalize_email(email: str) -> str:
    # Email addresses are compared without case: one person, one account.
    return (email or "").strip().lower()


def email_taken(email: str) -> bool:
    email = normalize_email(email)
    model = get_user_model()
    return (
        model.objects.filter(email__iexact=email).exists()
        or model.objects.filter(**{f"{model.USERNAME_FIELD}__iexact": email}).exists()
    )


def signup(*, email: str, password: str) -> Any:
    """Create an account; its username is its email address (sign-in takes either).

    Raises ValidationError (Django's password validators) or AccountError."""
    model = get_user_model()
    email = normalize_email(email)
    if not email:
        raise AccountError("Enter your email address.", field="email")
    if len(email) > model._meta.get_field(model.USERNAME_FIELD).max_length:
        raise AccountError("This email address is too long.", field="email")
    if email_taken(email):
        raise AccountError(
            "An account with this email address exists already. Sign in, or reset its password.",
            field="email",
        )
    user = model(**{model.USERNAME_FIELD: email, "email": email})
    validate_password(password, user=user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # the same address signed up a moment ago
        raise AccountError(
            "An account with this email address exists already. Sign in, or reset its password.",
            field="email",
        ) from None
    return user


# --- Limits on sign-ups and on email, and verifying an address ----------------------------------
#
# An account's daily quota is far larger than an anonymous address's, so making accounts must not
# be a way around it: sign-ups are limited per address, and an account gets its quota once it
# proved its email address (until then it has the anonymous one). Email is limited per inbox,
# so that nobody can make Coloria flood someone's mailbox with reset or verification links.

HOUR = 3600
VERIFY_SALT = "coloria.verify-email"
# The permission that verification grants; colorize's quota reads it (see colorize.models.Usage).
VERIFIED_PERMISSION = ("colorize", "full_daily_quota")


def signup_limit() -> Limit:
    return Limit("signup-address", settings.COLORIA_SIGNUPS_PER_ADDRESS, HOUR)


def reset_limit() -> Limit:
    return Limit("reset-address", settings.COLORIA_RESETS_PER_ADDRESS, HOUR)


def inbox_limit() -> Limit:
    return Limit("email-inbox", settings.COLORIA_EMAILS_PER_INBOX, HOUR)


def email_verified(user: Any) -> bool:
    """Whether the account proved its email address (staff are trusted as they are)."""
    app, codename = VERIFIED_PERMISSION
    return bool(user.is_staff or user.has_perm(f"{app}.{codename}"))


def send_verification_email(user: Any, *, site_url: str) -> bool:
    """Email the account a link that verifies its address. False (nothing sent) when this inbox
    had its share of email for the hour."""
    if not user.email or inbox_limit().exceeded(normalize_email(user.email)):
        return False
    token = signing.dumps({"u": user.pk, "e": normalize_email(user.email)}, salt=VERIFY_SALT)
    context = {
        "email": user.email,
        "link": f"{site_url.rstrip('/')}/accounts/verify/{token}/",
        "days": settings.COLORIA_EMAIL_VERIFY_DAYS,
        "quota": settings.COLORIA_DAILY_JOBS_PER_USER,
    }
    send_mail(
        "Confirm your email address for Coloria",
        render_to_string("accounts/verify_email.txt", context),
        None,
        [user.email],
    )
    inbox_limit().hit(normalize_email(user.email))
    return True


def verify_email(token: str) -> Any:
    """The account a verification link names, now verified. AccountError if the link is
    broken, expired, or for an address the account no longer has."""
    try:
        data = signing.loads(
            token, salt=VERIFY_SALT, max_age=settings.COLORIA_EMAIL_VERIFY_DAYS * 24 * HOUR
        )
    except signing.SignatureExpired:
        raise AccountError(
            "This link has expired. Sign in and ask for a new one on your account page."
        ) from None
    except signing.BadSignature:
        raise AccountError("This link is not valid: copy the whole link from the email.") from None
    user = get_user_model().objects.filter(pk=data.get("u")).first()
    if user is None or normalize_email(user.email) != data.get("e"):
        raise AccountError("This link is for an account or address that no longer exists.")
    app, codename = VERIFIED_PERMISSION
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label=app, codename=codename)
    )
    return user


def user_for_login(login: str) -> Any | None:
    """The account a sign-in name means: a username, or else an email address (any case)."""
    model = get_user_model()
    login = (login or "").strip()
    if not login:
        return None
    user = model.objects.filter(**{model.USERNAME_FIELD: login}).first()
    if user is None and "@" in login:
        matches = list(model.objects.filter(email__iexact=login)[:2])
        user = matches[0] if len(matches) == 1 else None  # ambiguous: let nobody in by email
    return user


# --- Sign-in limits, and devices that signed in before ----------------------------------------
#
# Guessing passwords is slowed by counting failures per account name and per client address;
# past the limit, signing in pauses for the window. So that a stranger cannot lock an account (or
# everyone behind a shared address) out this way, a browser that signed in to an account before
# carries a signed "device" cookie for it, and from such a device the right password still works:
# its failures are counted for that device alone (OWASP's device cookies).

DEVICE_COOKIE = "coloria_device"
DEVICE_SALT = "coloria.device"
DEVICE_MAX_AGE = 365 * 24 * 3600


def _window() -> int:
    return settings.COLORIA_LOGIN_WINDOW_MINUTES * 60


def _name_limit() -> Limit:
    return Limit("login-name", settings.COLORIA_LOGIN_MAX_FAILURES, _window())


def _address_limit() -> Limit:
    return Limit("login-address", settings.COLORIA_LOGIN_MAX_FAILURES_PER_ADDRESS, _window())


def _device_limit() -> Limit:
    return Limit("login-device", settings.COLORIA_LOGIN_MAX_FAILURES_PER_DEVICE, _window())


def _name(username: str) -> str:
    return (username or "").strip().lower()


def device_cookie_value(user: Any) -> str:
    """A new device cookie for this account (signed: it cannot be made up)."""
    return signing.dumps({"u": user.pk, "d": secrets.token_hex(8)}, salt=DEVICE_SALT)


def trusted_device(request: HttpRequest | None, user: Any) -> str:
    """The device id of a valid device cookie for `user` in this request, or ""."""
    if request is None or user is None:
        return ""
    raw = getattr(request, "COOKIES", {}).get(DEVICE_COOKIE, "")
    try:
        data = signing.loads(raw, salt=DEVICE_SALT, max_age=DEVICE_MAX_AGE) if raw else {}
    except signing.BadSignature:
        return ""
    return f"{user.pk}:{data['d']}" if data.get("u") == user.pk else ""


def login_blocked(*, username: str, request: HttpRequest | None) -> bool:
    """Whether sign-in is refused for now: too many recent failures for this name or address,
    or, from a device that signed in to this account before, for that device alone."""
    device = trusted_device(request, user_for_login(username))
    if device:
        return _device_limit().exceeded(device)
    address = client_address(request)
    return _name_limit().exceeded(_name(username)) or _address_limit().exceeded(address)


def login_blocked_message() -> str:
    minutes = settings.COLORIA_LOGIN_WINDOW_MINUTES
    return (
        "Too many failed sign-in attempts. For your account's safety, signing in is paused: "
        f"try again in {minutes} minutes, or reset your password. A browser you signed in "
        "with before can still sign in."
    )


def login_failure_record(*, username: str, request: HttpRequest | None) -> None:
    """Count one failed sign-in: for the device if it signed in to this account before, else
    for the name and the address."""
    device = trusted_device(request, user_for_login(username))
    if device:
        _device_limit().hit(device)
        return
    _name_limit().hit(_name(username))
    _address_limit().hit(client_address(request))


def login_failures_clear(*, user: Any) -> None:
    """A successful sign-in forgives the name's failures (not the address's: an attacker with
    one account of their own must not reset the count of an address they guess from)."""
    for name in {user.get_username(), getattr(user, "email", "")}:
        _name_limit().clear(_name(name))


def login_refusal(*, username: str, password: str) -> str | None:
    """Why the right password of an inactive account does not sign in, for the person who knows
    it (a suspension says so, with its reason); None for any other failure."""
    user = user_for_login(username)
    if user is None or user.is_active or not user.check_password(password):
        return None
    status = AccountStatus.objects.filter(user=user, suspended_at__isnull=False).first()
    if status is None:
        return "This account is deactivated. Write to the site's administrators to reopen it."
    reason = f" Reason: {status.suspended_reason}" if status.suspended_reason else ""
    return (
        "This account is suspended by a moderator, so it cannot sign in or send photos; "
        f"its photos are kept.{reason} Write to the site's administrators if you think this "
        "is a mistake."
    )


# --- Suspension (moderators) ------------------------------------------------------------------


def is_suspended(user: Any) -> bool:
    return AccountStatus.objects.filter(user=user, suspended_at__isnull=False).exists()


def _check_may_moderate(*, user: Any, moderator: Any) -> None:
    if not (getattr(moderator, "is_authenticated", False) and moderator.is_staff):
        raise AccountError("Only staff may suspend or reinstate accounts.")
    if user.pk == moderator.pk:
        raise AccountError("You cannot suspend or reinstate your own account.")
    if user.is_superuser and not moderator.is_superuser:
        raise AccountError(f"Only a superuser may suspend or reinstate {user.get_username()}.")


def suspend_user(*, user: Any, moderator: Any, reason: str) -> bool:
    """Suspend an account: it cannot sign in or send photos, its sessions and API tokens stop
    working at once, and its content is kept. Recorded. False if it was suspended already."""

    _check_may_moderate(user=user, moderator=moderator)
    with transaction.atomic():
        status, _ = AccountStatus.objects.select_for_update().get_or_create(user=user)
        if status.is_suspended:
            return False
        try:
            action = moderation_record(
                moderator=moderator,
                action=ModerationAction.Action.SUSPEND,
                target=user,
                reason=reason,
            )
        except ModerationError as exc:
            raise AccountError(exc.message) from None
        status.suspended_at = action.created_at
        status.suspended_reason = action.reason
        status.suspended_by = moderator
        status.save()
        # Inactive users are refused by every part of Django's auth: the sign-in form, existing
        # sessions (their user no longer loads), the admin, password reset, API tokens.
        get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    user.refresh_from_db()
    return True


def reinstate_user(*, user: Any, moderator: Any, reason: str) -> bool:
    """Lift a suspension. Recorded. False if the account was not suspended."""

    _check_may_moderate(user=user, moderator=moderator)
    with transaction.atomic():
        status = AccountStatus.objects.select_for_update().filter(user=user).first()
        if status is None or not status.is_suspended:
            return False
        try:
            moderation_record(
                moderator=moderator,
                action=ModerationAction.Action.REINSTATE,
                target=user,
                reason=reason,
            )
        except ModerationError as exc:
            raise AccountError(exc.message) from None
        status.suspended_at = None
        status.suspended_reason = ""
        status.suspended_by = None
        status.save()
        get_user_model().objects.filter(pk=user.pk).update(is_active=True)
    user.refresh_from_db()
    return True


# --- Deleting one's account -------------------------------------------------------------------


def delete_account_by_staff(*, user: Any, moderator: Any, reason: str) -> None:
    """An administrator deletes an account (the admin's delete): the same clean-up as the
    owner's own deletion, recorded in the moderation log, which keeps the record (not the user)."""

    with transaction.atomic():
        moderation_record(
            moderator=moderator, action=ModerationAction.Action.DELETE, target=user, reason=reason
        )
        owner_content_delete(owner=user)
        user.delete()


def delete_account(*, user: Any, password: str) -> None:
    """Delete an account after its owner re-entered the password: every photo, result and file
    (files once the deletion commits), API tokens, quota records, and the user. Moderators'
    records of past actions stay, without the person (their link to the user is cleared)."""

    if not password or not user.check_password(password):
        raise AccountError("The password is not correct.", field="password")
    with transaction.atomic():
        owner_content_delete(owner=user)
        user.delete()  # tokens, account status and quota records cascade
