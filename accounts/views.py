"""Account pages: thin views over accounts.services and Django's auth views."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from coloria_site.ratelimit import client_address, minutes
from coloria_site.refusals import Refusal
from colorize.selectors import access
from colorize.services import quotas

from . import services
from .forms import DeleteAccountForm, LoginForm, SignupForm, TokenCreateForm
from .models import ApiToken

BACKEND = "accounts.backends.EmailOrUsernameBackend"


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


# --- Sign-up, sign-in, sign-out -----------------------------------------------------------------


def _site_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


@sensitive_post_parameters("password1", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:profile")
    form = SignupForm(request.POST or None)
    address = client_address(request)
    limit = services.signup_limit()
    if request.method == "POST" and limit.exceeded(address):
        wait = limit.retry_after(address)
        form.add_error(
            None,
            "Too many accounts were made from your network in the last hour. Try again in "
            f"{minutes(wait)}, or sign in to an account you have.",
        )
        response = render(request, "accounts/signup.html", {"form": form}, status=429)
        response["Retry-After"] = str(wait)
        return response
    if request.method == "POST" and form.is_valid():
        user = form.save()
        if user is not None:
            limit.hit(address)
            login(request, user, backend=BACKEND)
            sent = services.send_verification_email(user, site_url=_site_url(request))
            messages.success(
                request,
                "Welcome to Coloria: your account is ready. "
                + (
                    f"Follow the link we emailed to {user.email} to unlock its daily quota."
                    if sent
                    else "Ask for the link that verifies your email address on your account page."
                ),
            )
            return redirect(_safe_next(request) or reverse("colorize:home"))
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "accounts/signup.html",
        {"form": form, "next": _safe_next(request)},
        status=status,
    )


@never_cache
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """The link emailed at sign-up: the account's daily quota applies from now on."""
    try:
        user = services.verify_email(token)
    except Refusal as exc:
        messages.error(request, exc.message)
        return redirect("accounts:profile" if request.user.is_authenticated else "accounts:login")
    messages.success(
        request,
        f"Thank you: {user.email} is verified, and your account may queue "
        f"{settings.COLORIA_DAILY_JOBS_PER_USER} jobs a day.",
    )
    return redirect("accounts:profile" if request.user.is_authenticated else "accounts:login")


@login_required
@require_POST
def verify_email_resend(request: HttpRequest) -> HttpResponse:
    user = request.user
    if services.email_verified(user):
        messages.info(request, "Your email address is verified already.")
    elif services.send_verification_email(user, site_url=_site_url(request)):
        messages.success(request, f"A new link is on its way to {user.email}.")
    else:
        messages.error(
            request,
            "We sent several emails to this address in the last hour: look for the newest "
            "(also in spam), or ask again later.",
        )
    return redirect("accounts:profile")


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form: LoginForm) -> HttpResponse:
        response = super().form_invalid(form)
        errors = form.errors.as_data().get("__all__", [])
        codes = {error.code for error in errors}
        # A refusal is not a typing mistake: say so in the status too (429 tells scripts to wait).
        response.status_code = (
            429 if "rate_limited" in codes else 403 if "suspended" in codes else 400
        )
        return response


class LogoutView(auth_views.LogoutView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You are signed out.")
        return response


# --- Passwords ----------------------------------------------------------------------------------


class PasswordChangeView(auth_views.PasswordChangeView):
    # Not registration/password_change_form.html: that name would restyle the admin's own page.
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:profile")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)  # keeps this session signed in
        messages.success(self.request, "Your password is changed.")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset, limited per client address (429 past it) and per inbox (past it, the
    page reads the same but no more mail is sent: it must not tell who has an account)."""

    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-done")

    def form_valid(self, form: Any) -> HttpResponse:
        address = client_address(self.request)
        limit = services.reset_limit()
        if limit.exceeded(address):
            wait = limit.retry_after(address)
            form.add_error(
                None,
                "Too many password resets were asked from your network in the last hour. "
                f"Try again in {minutes(wait)}.",
            )
            response = self.render_to_response(self.get_context_data(form=form), status=429)
            response["Retry-After"] = str(wait)
            return response
        limit.hit(address)
        inbox = services.normalize_email(form.cleaned_data["email"])
        if services.inbox_limit().exceeded(inbox):
            return redirect(self.get_success_url())
        services.inbox_limit().hit(inbox)
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["timeout_hours"] = settings.PASSWORD_RESET_TIMEOUT // 3600
        return context


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        # Whoever proved they own the mailbox may sign in again at once.
        services.login_failures_clear(user=form.user)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"


# --- Profile, tokens, deleting the account -------------------------------------------------------


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "accounts/profile.html",
        {
            "job_counts": access.owner_job_counts(owner=user),
            "quota": quotas.quota_status(owner=user),
            "active_tokens": ApiToken.objects.filter(user=user, revoked_at__isnull=True).count(),
            "email_verified": services.email_verified(user),
            "verified_quota": settings.COLORIA_DAILY_JOBS_PER_USER,
        },
    )


def _tokens_page(
    request: HttpRequest,
    form: TokenCreateForm,
    *,
    new_token: ApiToken | None = None,
    new_key: str = "",
    status: int = 200,
) -> HttpResponse:
    response = render(
        request,
        "accounts/tokens.html",
        {
            "form": form,
            "tokens": ApiToken.objects.filter(user=request.user),
            "new_token": new_token,
            "new_key": new_key,
        },
        status=status,
    )
    if new_key:
        response["Cache-Control"] = "no-store"  # the key is shown once: keep it out of caches
    return response


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _tokens_page(request, TokenCreateForm())
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        return _tokens_page(request, form, status=400)
    token, key = services.token_create(request.user, form.cleaned_data["name"])
    # Shown in this response only (not after a redirect): only its hash is stored.
    return _tokens_page(request, TokenCreateForm(), new_token=token, new_key=key)


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = ApiToken.objects.filter(pk=token_id, user=request.user).first()
    if token is None:
        raise Http404("No such token.")
    services.token_revoke(token)
    messages.success(request, f"Revoked “{token.name}” ({token.prefix}…): it no longer works.")
    return redirect("accounts:tokens")


@sensitive_post_parameters("password")
@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.delete_account(user=request.user, password=form.cleaned_data["password"])
        except Refusal as exc:
            form.add_error(exc.field, exc.message)
        else:
            logout(request)
            messages.success(request, "Your account, photos and results are deleted. Goodbye.")
            return redirect("colorize:home")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "accounts/delete.html",
        {"form": form, "photo_count": request.user.uploads.count()},
        status=status,
    )
