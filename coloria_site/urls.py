from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("colorize.api.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("colorize.urls")),
]

handler400 = "coloria_site.errors.bad_request"
handler404 = "coloria_site.errors.not_found"
handler500 = "coloria_site.errors.server_error"
