from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("colorize.api.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("colorize.urls")),
]
