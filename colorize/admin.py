"""Moderation in Django's admin, for staff: jobs, photos and results with previews and recorded
actions (re-run, cancel, hide, unhide, delete), the moderation log, and a dashboard.

Every active staff member may moderate (no per-model permissions to hand out). Rows are never
edited or deleted by hand here: the actions go through colorize.services, which record who did
what and why, and remove files with their rows (Django's own delete would leave the files).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import Truncator

from .admin_moderation import ModerationMixin, moderate
from .models import Batch, Job, ModerationAction, Result, Upload
from .selectors import access, dashboard
from .services import moderation


def _image(url: str, alt: str, link: str | None = None, width: int = 96) -> str:
    image = format_html('<img src="{}" alt="{}" width="{}" loading="lazy">', url, alt, width)
    return format_html('<a href="{}">{}</a>', link, image) if link else image


def job_previews(job: Job | None, width: int = 96) -> str:
    """Thumbnails of a job's original and result, through the site's own image views (staff may
    see every job there), each linked to the full-size image."""
    if job is None:
        return "—"
    original = _image(
        reverse("colorize:job-thumbnail", args=[job.pk, "original"]),
        "Original",
        reverse("colorize:job-original", args=[job.pk]),
        width,
    )
    if job.status != Job.Status.SUCCEEDED:
        return original
    result = _image(
        reverse("colorize:job-thumbnail", args=[job.pk, "result"]),
        "Result",
        reverse("colorize:job-result", args=[job.pk]),
        width,
    )
    return format_html("{} {}", original, result)


def owner_link(user: Any) -> str:
    if user is None:
        return "anonymous"
    url = reverse("admin:auth_user_change", args=[user.pk])
    return format_html('<a href="{}">{}</a>', url, user.get_username())


class HiddenFilter(admin.SimpleListFilter):
    title = "moderation"
    parameter_name = "hidden"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Hidden"), ("no", "Not hidden"), ("published", "In the gallery")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(hidden_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(hidden_at__isnull=True)
        if self.value() == "published":
            return queryset.filter(access.PUBLIC_JOBS)
        return queryset


# --- Jobs -----------------------------------------------------------------------------------


@admin.register(Job)
class JobAdmin(ModerationMixin, admin.ModelAdmin):
    # Seven compact columns, so that the list fits a 1366 px laptop beside the admin's two
    # sidebars (ten columns hid the last four behind a sideways scroll): the run time and tries
    # go with the status, the gallery state with the error; admin/colorize/job/change_list.html
    # lets the long ones wrap.
    list_display = (
        "short_id",
        "previews",
        "model_key",
        "state",
        "owner_column",
        "queued",
        "notes",
    )
    list_filter = (
        "status",
        "model_key",
        ("queued_at", admin.DateFieldListFilter),
        ("owner", admin.RelatedOnlyFieldListFilter),
        HiddenFilter,
    )
    search_fields = ("id", "owner__username", "owner__email")
    search_help_text = "A job's id (or part of it), or its owner's username or email."
    list_select_related = ("owner", "upload", "result")
    list_per_page = 50
    actions = ["rerun", "cancel", "hide", "unhide", "delete_with_files"]
    fields = (
        "id",
        "large_previews",
        "status",
        "error",
        "model_key",
        "params",
        "owner",
        "batch",
        "upload",
        "queued_at",
        "started_at",
        "finished_at",
        "duration",
        "attempts",
        "worker",
        "heartbeat_at",
        "enqueued_at",
        "published_at",
        "hidden_at",
        "hidden_reason",
        "callback_url",
        "history",
    )
    readonly_fields = ("large_previews", "duration", "history")

    @admin.display(description="id", ordering="id")
    def short_id(self, job: Job) -> str:
        return str(job.pk)[:8]

    @admin.display(description="images")
    def previews(self, job: Job) -> str:
        return job_previews(job, width=64)

    @admin.display(description="images")
    def large_previews(self, job: Job) -> str:
        return job_previews(job, width=320)

    @admin.display(description="owner", ordering="owner__username")
    def owner_column(self, job: Job) -> str:
        return owner_link(job.owner)

    @admin.display(description="run time")
    def duration(self, job: Job) -> str:
        seconds = job.duration_seconds
        return "—" if seconds is None else f"{seconds:.1f} s"

    @admin.display(description="status", ordering="status")
    def state(self, job: Job) -> str:
        """The status, with the run time and, when there was more than one, the tries."""
        details = [] if job.duration_seconds is None else [self.duration(job)]
        if job.attempts > 1:
            details.append(f"{job.attempts} tries")
        if not details:
            return job.get_status_display()
        return format_html(
            '{}<br><span class="quiet">{}</span>', job.get_status_display(), " · ".join(details)
        )

    @admin.display(description="queued", ordering="queued_at")
    def queued(self, job: Job) -> str:
        return date_format(timezone.localtime(job.queued_at), "Y-m-d H:i")

    @admin.display(description="visibility")
    def visibility(self, job: Job) -> str:
        if job.is_hidden:
            return format_html("hidden: {}", Truncator(job.hidden_reason).chars(60))
        return "in the gallery" if job.is_published else "private"

    @admin.display(description="error")
    def short_error(self, job: Job) -> str:
        return Truncator(job.error).chars(80) if job.error else ""

    @admin.display(description="visibility, error")
    def notes(self, job: Job) -> str:
        if not job.error:
            return self.visibility(job)
        return format_html(
            '{}<br><span class="errornote-inline">{}</span>',
            self.visibility(job),
            self.short_error(job),
        )

    @admin.display(description="moderation history")
    def history(self, job: Job) -> str:
        return moderation_history("job", job.pk)

    @admin.action(description="Re-run the selected jobs", permissions=["moderate"])
    def rerun(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return moderate(
            self,
            request,
            queryset,
            title="Re-run jobs",
            apply=lambda job, reason: moderation.job_requeue(
                job=job, moderator=request.user, reason=reason
            ),
            done="Queued {n} job(s) again.",
        )

    @admin.action(
        description="Cancel the selected jobs (queued or running)", permissions=["moderate"]
    )
    def cancel(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return moderate(
            self,
            request,
            queryset,
            title="Cancel jobs",
            apply=lambda job, reason: moderation.job_cancel(
                job=job, moderator=request.user, reason=reason
            ),
            done="Cancelled {n} job(s).",
            unchanged="{n} job(s) had finished already: left as they were.",
        )

    @admin.action(description="Hide the selected jobs", permissions=["moderate"])
    def hide(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return moderate(
            self,
            request,
            queryset,
            title="Hide jobs from the gallery and public view",
            apply=lambda job, reason: moderation.job_hide(
                job=job, moderator=request.user, reason=reason
            ),
            done="Hid {n} job(s).",
            unchanged="{n} job(s) were hidden already.",
        )

    @admin.action(description="Unhide the selected jobs", permissions=["moderate"])
    def unhide(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return moderate(
            self,
            request,
            queryset,
            title="Unhide jobs",
            apply=lambda job, reason: moderation.job_unhide(
                job=job, moderator=request.user, reason=reason
            ),
            done="Unhid {n} job(s).",
            unchanged="{n} job(s) were not hidden.",
        )

    @admin.action(description="Delete the selected jobs and their files", permissions=["moderate"])
    def delete_with_files(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return moderate(
            self,
            request,
            queryset,
            title="Delete jobs, their results and files",
            apply=lambda job, reason: moderation.job_delete_moderated(
                job=job, moderator=request.user, reason=reason
            ),
            done="Deleted {n} job(s) with their files.",
        )

    # The dashboard lives here: /admin/colorize/job/dashboard/ (linked from the admin index).
    def get_urls(self) -> list:
        dashboard = self.admin_site.admin_view(self.dashboard_view)
        return [path("dashboard/", dashboard, name="colorize_dashboard"), *super().get_urls()]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        # admin_view has checked that the user is active staff (else: the admin's sign-in).
        return TemplateResponse(
            request,
            "admin/colorize/dashboard.html",
            {
                **self.admin_site.each_context(request),
                "title": "Coloria dashboard",
                "opts": self.model._meta,
                "board": dashboard.dashboard(),
            },
        )


# --- Photos and results -----------------------------------------------------------------------


@admin.register(Upload)
class UploadAdmin(ModerationMixin, admin.ModelAdmin):
    list_display = (
        "short_id",
        "preview",
        "original_name",
        "format",
        "dimensions",
        "size_bytes",
        "owner_column",
        "created_at",
        "job_count",
        "hidden_jobs",
    )
    list_filter = (
        "format",
        ("created_at", admin.DateFieldListFilter),
        ("owner", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("id", "sha256", "owner__username", "owner__email")
    list_select_related = ("owner",)
    actions = ["hide", "delete_with_files"]
    fields = (
        "id",
        "large_preview",
        "original_name",
        "format",
        "width",
        "height",
        "size_bytes",
        "sha256",
        "owner",
        "batch",
        "created_at",
        "expires_at",
        "history",
    )
    readonly_fields = ("large_preview", "history")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_jobs=Count("jobs", distinct=True),
                n_hidden=Count("jobs", filter=Q(jobs__hidden_at__isnull=False), distinct=True),
                # The site serves originals per job: any job of the photo shows it.
                first_job=Subquery(
                    Job.objects.filter(upload=OuterRef("pk")).order_by("queued_at").values("pk")[:1]
                ),
            )
        )

    @admin.display(description="id", ordering="id")
    def short_id(self, upload: Upload) -> str:
        return str(upload.pk)[:8]

    def _original(self, upload: Upload, width: int = 96) -> str:
        if upload.first_job is None:
            return "—"
        thumb = reverse("colorize:job-thumbnail", args=[upload.first_job, "original"])
        full = reverse("colorize:job-original", args=[upload.first_job])
        return _image(thumb, "Original", full, width)

    @admin.display(description="photo")
    def preview(self, upload: Upload) -> str:
        return self._original(upload)

    @admin.display(description="photo")
    def large_preview(self, upload: Upload) -> str:
        return self._original(upload, width=320)

    @admin.display(description="size")
    def dimensions(self, upload: Upload) -> str:
        return f"{upload.width}×{upload.height}"

    @admin.display(description="owner", ordering="owner__username")
    def owner_column(self, upload: Upload) -> str:
        return owner_link(upload.owner)

    @admin.display(description="jobs", ordering="n_jobs")
    def job_count(self, upload: Upload) -> str:
        url = reverse("admin:colorize_job_changelist") + f"?upload={upload.pk}"
        return format_html('<a href="{}">{}</a>', url, upload.n_jobs)

    @admin.display(description="hidden", ordering="n_hidden")
    def hidden_jobs(self, upload: Upload) -> int:
        return upload.n_hidden

    @admin.display(description="moderation history")
    def history(self, upload: Upload) -> str:
        return moderation_history("upload", upload.pk)

    @admin.action(description="Hide every job of the selected photos", permissions=["moderate"])
    def hide(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return moderate(
            self,
            request,
            queryset,
            title="Hide photos from the gallery and public view",
            apply=lambda upload, reason: (
                moderation.upload_hide(upload=upload, moderator=request.user, reason=reason) > 0
            ),
            done="Hid the jobs of {n} photo(s).",
            unchanged="{n} photo(s) had every job hidden already.",
        )

    @admin.action(
        description="Delete the selected photos, their jobs, results and files",
        permissions=["moderate"],
    )
    def delete_with_files(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return moderate(
            self,
            request,
            queryset,
            title="Delete photos with their jobs, results and files",
            apply=lambda upload, reason: moderation.upload_delete(
                upload=upload, moderator=request.user, reason=reason
            ),
            done="Deleted {n} photo(s) with their jobs, results and files.",
        )


@admin.register(Result)
class ResultAdmin(ModerationMixin, admin.ModelAdmin):
    list_display = ("job_link", "preview", "width", "height", "owner_column", "created_at")
    list_filter = (("created_at", admin.DateFieldListFilter),)
    search_fields = ("job__id", "job__owner__username", "job__owner__email")
    list_select_related = ("job", "job__owner")
    actions = ["hide", "delete_with_files"]
    fields = ("job", "large_preview", "width", "height", "created_at")
    readonly_fields = ("large_preview",)

    @admin.display(description="job", ordering="job__queued_at")
    def job_link(self, result: Result) -> str:
        url = reverse("admin:colorize_job_change", args=[result.job_id])
        return format_html('<a href="{}">{}</a>', url, str(result.job_id)[:8])

    @admin.display(description="result")
    def preview(self, result: Result) -> str:
        thumb = reverse("colorize:job-thumbnail", args=[result.job_id, "result"])
        return _image(thumb, "Result", reverse("colorize:job-result", args=[result.job_id]))

    @admin.display(description="result")
    def large_preview(self, result: Result) -> str:
        return job_previews(result.job, width=320)

    @admin.display(description="owner")
    def owner_column(self, result: Result) -> str:
        return owner_link(result.job.owner)

    @admin.action(description="Hide the jobs of the selected results", permissions=["moderate"])
    def hide(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return moderate(
            self,
            request,
            queryset.select_related("job"),
            title="Hide results from the gallery and public view",
            apply=lambda result, reason: moderation.job_hide(
                job=result.job, moderator=request.user, reason=reason
            ),
            done="Hid {n} result(s).",
            unchanged="{n} result(s) were hidden already.",
        )

    @admin.action(
        description="Delete the selected results with their jobs and files",
        permissions=["moderate"],
    )
    def delete_with_files(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return moderate(
            self,
            request,
            queryset.select_related("job"),
            title="Delete results with their jobs and files",
            apply=lambda result, reason: moderation.job_delete_moderated(
                job=result.job, moderator=request.user, reason=reason
            ),
            done="Deleted {n} result(s) with their jobs and files.",
        )


@admin.register(Batch)
class BatchAdmin(ModerationMixin, admin.ModelAdmin):
    list_display = ("id", "model_key", "owner", "created_at")
    search_fields = ("id", "owner__username", "owner__email")
    list_select_related = ("owner",)


# --- The moderation log ---------------------------------------------------------------------


def moderation_history(target_type: str, target_id: Any) -> str:
    """A link to the log entries about one thing (with their count)."""
    count = ModerationAction.objects.filter(
        target_type=target_type, target_id=str(target_id)
    ).count()
    if not count:
        return "none"
    url = reverse("admin:colorize_moderationaction_changelist")
    url += f"?target_type={target_type}&target_id={target_id}"
    return format_html('<a href="{}">{} recorded action(s)</a>', url, count)


@admin.register(ModerationAction)
class ModerationActionAdmin(ModerationMixin, admin.ModelAdmin):
    """Read-only for everyone, superusers too: the record is append-only."""

    list_display = ("created_at", "moderator", "action", "target", "subject", "reason")
    list_filter = (
        "action",
        "target_type",
        ("created_at", admin.DateFieldListFilter),
        ("moderator", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = (
        "reason",
        "target_id",
        "moderator__username",
        "subject_user__username",
        "subject_user__email",
    )
    list_select_related = ("moderator", "subject_user")
    date_hierarchy = "created_at"

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # The links from a job's or photo's page: ?target_type=job&target_id=<id>
        return lookup == "target_id" or super().lookup_allowed(lookup, value, request)

    @admin.display(description="target")
    def target(self, action: ModerationAction) -> str:
        urls = {
            "job": ("admin:colorize_job_change", Job),
            "upload": ("admin:colorize_upload_change", Upload),
            "user": ("admin:auth_user_change", get_user_model()),
        }
        name, model = urls.get(action.target_type, (None, None))
        if name is None or not model.objects.filter(pk=action.target_id).exists():
            return action.target_repr  # deleted since: the description stays
        url = reverse(name, args=[action.target_id])
        return format_html('<a href="{}">{}</a>', url, action.target_repr)

    @admin.display(description="whose", ordering="subject_user__username")
    def subject(self, action: ModerationAction) -> str:
        if action.subject_user_id is None:
            return "anonymous or deleted account"
        return owner_link(action.subject_user)
