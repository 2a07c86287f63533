"""/api/v1/: the REST API, its OpenAPI schema and its docs page."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views

app_name = "api"

urlpatterns = [
    path("models", views.ModelListView.as_view(), name="models"),
    path("imagenet-classes", views.ImageNetClassListView.as_view(), name="imagenet-classes"),
    path("jobs", views.JobListView.as_view(), name="jobs"),
    path("jobs/<uuid:job_id>", views.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<uuid:job_id>/result", views.JobResultView.as_view(), name="job-result"),
    path("jobs/<uuid:job_id>/poster", views.JobPosterView.as_view(), name="job-poster"),
    path("jobs/<uuid:job_id>/original", views.JobOriginalView.as_view(), name="job-original"),
    path("jobs/<uuid:job_id>/cancel", views.JobCancelView.as_view(), name="job-cancel"),
    path("jobs/<uuid:job_id>/retry", views.JobRetryView.as_view(), name="job-retry"),
    path("jobs/<uuid:job_id>/refine", views.JobRefineView.as_view(), name="job-refine"),
    path("jobs/<uuid:job_id>/publish", views.JobPublishView.as_view(), name="job-publish"),
    path("jobs/<uuid:job_id>/unpublish", views.JobUnpublishView.as_view(), name="job-unpublish"),
    path("jobs/<uuid:job_id>/share", views.JobShareView.as_view(), name="job-share"),
    path("callback-secret", views.CallbackSecretView.as_view(), name="callback-secret"),
    path("schema", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    path(
        "docs",
        # Swagger UI with a header leading back to the site (templates/api/docs.html).
        SpectacularSwaggerView.as_view(url_name="api:schema", template_name="api/docs.html"),
        name="docs",
    ),
]
