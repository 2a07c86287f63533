from django.contrib import admin

from .models import Batch, Job, Result, Upload


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "model_key", "status", "owner", "queued_at", "finished_at", "attempts")
    list_filter = ("status", "model_key", "queued_at")
    search_fields = ("id", "owner__username", "owner__email")
    readonly_fields = ("queued_at", "started_at", "finished_at", "attempts")


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ("id", "original_name", "format", "width", "height", "owner", "created_at")
    search_fields = ("id", "sha256", "owner__username")


admin.site.register(Batch)
admin.site.register(Result)
