"""Account forms: they check what people typed and hand the work to accounts.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate, get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.views.decorators.debug import sensitive_variables

from coloria_site.refusals import Refusal

from . import services


class SignupForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=150,  # it becomes the username
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
        help_text="You sign in with it; a password reset link is sent to it.",
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="The same password, to catch typing mistakes.",
    )

    def clean_email(self) -> str:
        email = services.normalize_email(self.cleaned_data["email"])
        if services.email_taken(email):
            raise ValidationError(
                "An account with this email address exists already. "
                "Sign in, or reset its password.",
                code="taken",
            )
        return email

    @sensitive_variables("password1", "password2")
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords differ.")
        elif password1 and cleaned.get("email"):
            model = get_user_model()
            candidate = model(**{model.USERNAME_FIELD: cleaned["email"], "email": cleaned["email"]})
            try:
                password_validation.validate_password(password1, user=candidate)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned

    def save(self) -> Any:
        try:
            return services.signup(
                email=self.cleaned_data["email"], password=self.cleaned_data["password1"]
            )
        except Refusal as exc:  # taken since clean_email: a race
            self.add_error(exc.field or None, exc.message)
            return None
        except ValidationError as exc:
            self.add_error("password1", exc)
            return None


class RateLimitedLoginMixin:
    """Sign-in that says why it refuses: too many failures (rate limit), or a suspension (only
    to someone who gave the right password), instead of the generic failure."""

    request: Any
    user_cache: Any

    @sensitive_variables("password")
    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            if services.login_blocked(username=username, request=self.request):
                raise ValidationError(services.login_blocked_message(), code="rate_limited")
            self.user_cache = authenticate(self.request, username=username, password=password)
            if self.user_cache is None:
                refusal = services.login_refusal(username=username, password=password)
                if refusal:
                    raise ValidationError(refusal, code="suspended")
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class LoginForm(RateLimitedLoginMixin, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email address (or username) and password do not match an "
        "account. Check both; the password is case-sensitive.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email address or username"
        self.fields["username"].widget.attrs["autocomplete"] = "username"


class AdminLoginForm(RateLimitedLoginMixin, AdminAuthenticationForm):
    """The admin's sign-in, with the same rate limit and messages."""


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        label="Token name",
        max_length=100,
        help_text="What it is for, e.g. “backup script on my laptop”.",
    )

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise ValidationError("Give the token a name.", code="required")
        return name


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="To confirm that it is you.",
    )
