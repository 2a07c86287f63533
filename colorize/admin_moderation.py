"""What every moderation screen of the admin shares (colorize's and accounts'): who may moderate,
and actions that ask for a reason on an intermediate page before they apply."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from coloria_site.refusals import Refusal


def is_moderator(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_staff)


class ModerationMixin:
    """Staff see everything and act through the recorded actions only."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_moderator(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_moderator(request)

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return is_moderator(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deleting goes through the recorded action, which removes files too


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded with the action. For hidden photos, the owner sees it too.",
    )


def moderate(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    title: str,
    apply: Callable[[Any, str], Any],
    done: str,
    unchanged: str = "",
) -> HttpResponse | None:
    """An admin action that asks for the reason on an intermediate page, then applies
    `apply(object, reason)` to each selected object and says what happened.

    `apply` returns False for an object it left alone (e.g. hidden already); a refusal
    (a Refusal: moderation's, or an account action's) is reported per object and does not stop
    the others."""
    form = ReasonForm(request.POST if request.POST.get("confirm") == "yes" else None)
    if form.is_valid():
        reason = form.cleaned_data["reason"]
        changed, skipped, refused = 0, 0, []
        for obj in queryset:
            try:
                result = apply(obj, reason)
            except Refusal as exc:
                refused.append(f"{obj}: {exc.message}")
                continue
            if result is False:
                skipped += 1
            else:
                changed += 1
        if changed:
            modeladmin.message_user(request, done.format(n=changed), messages.SUCCESS)
        if skipped and unchanged:
            modeladmin.message_user(request, unchanged.format(n=skipped), messages.WARNING)
        for problem in refused:
            modeladmin.message_user(request, problem, messages.ERROR)
        return None  # back to the list
    opts = modeladmin.model._meta
    return TemplateResponse(
        request,
        "admin/moderation_reason.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "opts": opts,
            "objects": list(queryset),
            "form": form,
            "action": request.POST.get("action", ""),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        },
    )
