from django.urls import path

from . import film_views, page_views, share_views, views

app_name = "colorize"

urlpatterns = [
    path("", views.home, name="home"),
    path("samples/<slug:key>.jpg", page_views.sample_photo, name="sample"),
    path("batches/<uuid:batch_id>/", views.batch_detail, name="batch"),
    path("batches/<uuid:batch_id>/status", views.batch_status, name="batch-status"),
    path("batches/<uuid:batch_id>/compare/", views.batch_compare, name="compare"),
    path("batches/<uuid:batch_id>/results.zip", views.batch_download, name="batch-zip"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job"),
    path("jobs/<uuid:job_id>/status", views.job_status, name="job-status"),
    path("jobs/<uuid:job_id>/original", views.job_original, name="job-original"),
    path("jobs/<uuid:job_id>/result.png", views.job_result, name="job-result"),
    path("jobs/<uuid:job_id>/before-after.jpg", views.job_side_by_side, name="job-side-by-side"),
    path("jobs/<uuid:job_id>/thumbnail/<str:kind>", views.job_thumbnail, name="job-thumbnail"),
    path("jobs/<uuid:job_id>/film/<str:which>", film_views.job_film, name="job-film"),
    path("jobs/<uuid:job_id>/cancel", film_views.job_cancel, name="job-cancel"),
    path("jobs/<uuid:job_id>/try-model", views.job_try_model, name="job-try-model"),
    path("jobs/<uuid:job_id>/retry", views.job_retry, name="job-retry"),
    path("jobs/<uuid:job_id>/rerun", views.job_rerun, name="job-rerun"),
    path("jobs/<uuid:job_id>/refine", views.job_refine, name="job-refine"),
    path("jobs/<uuid:job_id>/reference", views.job_reference, name="job-reference"),
    path("jobs/<uuid:job_id>/publish", views.job_publish, name="job-publish"),
    path("jobs/<uuid:job_id>/unpublish", views.job_unpublish, name="job-unpublish"),
    path("jobs/<uuid:job_id>/delete", views.job_delete, name="job-delete"),
    path("jobs/<uuid:job_id>/share", views.job_share, name="job-share"),
    path("jobs/<uuid:job_id>/unshare", views.job_unshare, name="job-unshare"),
    # Unlisted share links: anyone with the token sees the photo (colorize.share_views).
    path("s/<str:token>/", share_views.shared_page, name="shared"),
    path("s/<str:token>/result.png", share_views.shared_result, name="shared-result"),
    path("s/<str:token>/original", share_views.shared_original, name="shared-original"),
    path("s/<str:token>/preview.jpg", share_views.shared_preview, name="shared-preview"),
    path("history/", page_views.history, name="history"),
    path("gallery/", page_views.gallery, name="gallery"),
    path("models/", page_views.models_index, name="models"),
    path("models/<slug:family>/", page_views.model_family, name="model-family"),
    path("how-it-works/", page_views.how_it_works, name="how-it-works"),
    path("about/", page_views.about, name="about"),
]
