"""Pages to read: an owner's history, the public gallery, the model pages, the explanations
and the sample photos. Thin views over selectors (colorize.views has the upload and the jobs)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from . import samples
from .selectors import access, model_pages
from .views import site_context


@require_GET
def sample_photo(request: HttpRequest, key: str) -> HttpResponse:
    """A sample photo (grey JPEG), as the "try a sample photo" buttons show and send it."""
    if samples.sample(key) is None:
        raise Http404("No such sample photo.")
    response = HttpResponse(samples.sample_jpeg(key), content_type="image/jpeg")
    response["Cache-Control"] = "public, max-age=86400"
    return response


# --- History and gallery -------------------------------------------------------------------------


@login_required
def history(request: HttpRequest) -> HttpResponse:
    model_key = request.GET.get("model", "")
    status = request.GET.get("status", "")
    status = status if status in access.HISTORY_STATUSES else ""
    page = access.history_page(
        user=request.user, model_key=model_key, status=status, page=request.GET.get("page", 1)
    )
    # The filters travel with the page links (deleting returns to the full address).
    filters = {name: value for name, value in (("model", model_key), ("status", status)) if value}
    return render(
        request,
        "colorize/history.html",
        {
            "page_obj": page,
            "this_page": request.get_full_path(),  # where each tile's delete returns to
            "model_key": model_key,
            "status": status,
            "filtered": bool(filters),
            "query": urlencode(filters),
            "models": access.history_models(user=request.user),
            "statuses": [(key, label) for key, (label, _) in access.HISTORY_STATUSES.items()],
        },
    )


def gallery(request: HttpRequest) -> HttpResponse:
    page = access.gallery_page(page=request.GET.get("page", 1))
    return render(request, "colorize/gallery.html", {**site_context(request), "page_obj": page})


# --- Model pages and the explanations ------------------------------------------------------------


def models_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "colorize/models.html",
        {"families": model_pages.model_families(), "study": model_pages.STUDY_RESULTS},
    )


def model_family(request: HttpRequest, family: str) -> HttpResponse:
    found = model_pages.model_family(family)
    if found is None:
        raise Http404("No such model family.")
    return render(request, "colorize/model_family.html", {"family": found})


def how_it_works(request: HttpRequest) -> HttpResponse:
    return render(request, "colorize/how_it_works.html", site_context(request))


def about(request: HttpRequest) -> HttpResponse:
    context = {"study": model_pages.STUDY_RESULTS, "samples": samples.SAMPLES}
    return render(request, "colorize/about.html", context)
