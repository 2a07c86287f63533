"""Users in the admin, for moderators: job counts, suspension state, and the suspend and reinstate
actions (recorded, with their reason). The admin's sign-in gets the site's rate limit."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from colorize.admin_moderation import is_moderator, moderate
from colorize.models import Batch, Job, Result, Upload
from colorize.selectors.access import owner_job_counts

from . import services
from .forms import AdminLoginForm
from .models import AccountStatus

admin.site.login_form = AdminLoginForm
admin.site.site_header = "Coloria administration"
admin.site.site_title = "Coloria admin"

User = get_user_model()
DELETE_REASON = "Account deleted in the admin, with every photo, result and file."


class SuspendedFilter(admin.SimpleListFilter):
    title = "suspension"
    parameter_name = "suspended"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Suspended"), ("no", "Not suspended")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        suspended = Q(account_status__suspended_at__isnull=False)
        if self.value() == "yes":
            return queryset.filter(suspended)
        if self.value() == "no":
            return queryset.exclude(suspended)
        return queryset


if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class ColoriaUserAdmin(UserAdmin):
    """Django's user admin (editing stays with superusers' permissions), readable by every
    moderator, with suspension: `is_active` is changed by the actions only, so that it always
    agrees with the recorded suspension."""

    list_display = (
        "username",
        "email",
        "is_staff",
        "state",
        "job_count",
        "failed_jobs",
        "date_joined",
        "last_login",
    )
    list_filter = (SuspendedFilter, "is_staff", "is_superuser", "groups")
    actions = ["suspend", "reinstate"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "is_active", "suspension", "jobs_summary") if obj else fields

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return (*fieldsets, ("Coloria", {"fields": ("suspension", "jobs_summary")}))

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .select_related("account_status")
            .annotate(
                n_jobs=Count("jobs", distinct=True),
                n_failed=Count("jobs", filter=Q(jobs__status="failed"), distinct=True),
            )
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_moderator(request) or super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_moderator(request) or super().has_view_permission(request, obj)

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return is_moderator(request)

    # Deleting a user (superusers: Django's delete permission) takes their photos, jobs, results
    # and files along through accounts.services, which the content's own admin pages do not allow
    # one by one; so the confirmation page must not ask for those permissions.
    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        content = {model._meta.verbose_name for model in (Batch, Upload, Job, Result)}
        return deleted, counts, perms_needed - content, protected

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.delete_account_by_staff(user=obj, moderator=request.user, reason=DELETE_REASON)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for user in queryset:
            self.delete_model(request, user)

    @staticmethod
    def _status(user: Any) -> AccountStatus | None:
        try:
            return user.account_status
        except AccountStatus.DoesNotExist:
            return None

    @admin.display(description="state")
    def state(self, user: Any) -> str:
        status = self._status(user)
        if status is not None and status.is_suspended:
            return "suspended"
        return "active" if user.is_active else "inactive"

    @admin.display(description="jobs", ordering="n_jobs")
    def job_count(self, user: Any) -> str:
        url = reverse("admin:colorize_job_changelist") + f"?owner__id__exact={user.pk}"
        return format_html('<a href="{}">{}</a>', url, user.n_jobs)

    @admin.display(description="failed", ordering="n_failed")
    def failed_jobs(self, user: Any) -> int:
        return user.n_failed

    @admin.display(description="suspension")
    def suspension(self, user: Any) -> str:
        status = self._status(user)
        log = reverse("admin:colorize_moderationaction_changelist") + f"?subject_user={user.pk}"
        if status is None or not status.is_suspended:
            return format_html('Not suspended. <a href="{}">Moderation history</a>', log)
        return format_html(
            'Suspended on {} by {}. Reason: {} <a href="{}">Moderation history</a>',
            status.suspended_at.strftime("%Y-%m-%d %H:%M %Z"),
            status.suspended_by.get_username() if status.suspended_by else "a former moderator",
            status.suspended_reason,
            log,
        )

    @admin.display(description="jobs")
    def jobs_summary(self, user: Any) -> str:

        counts = owner_job_counts(owner=user)
        url = reverse("admin:colorize_job_changelist") + f"?owner__id__exact={user.pk}"
        return format_html(
            '<a href="{}">{} in all</a>: {} done, {} failed, {} queued, {} running',
            url,
            counts["total"],
            counts["succeeded"],
            counts["failed"],
            counts["queued"],
            counts["running"],
        )

    @admin.action(description="Suspend the selected users", permissions=["moderate"])
    def suspend(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return moderate(
            self,
            request,
            queryset,
            title="Suspend users (they cannot sign in or send photos; their content stays)",
            apply=lambda user, reason: services.suspend_user(
                user=user, moderator=request.user, reason=reason
            ),
            done="Suspended {n} user(s).",
            unchanged="{n} user(s) were suspended already.",
        )

    @admin.action(description="Reinstate the selected users", permissions=["moderate"])
    def reinstate(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return moderate(
            self,
            request,
            queryset,
            title="Reinstate users",
            apply=lambda user, reason: services.reinstate_user(
                user=user, moderator=request.user, reason=reason
            ),
            done="Reinstated {n} user(s).",
            unchanged="{n} user(s) were not suspended.",
        )
