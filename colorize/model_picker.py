"""The upload form's model picker (templates/colorize/includes/model_picker.html), rendered once
per state of the installed models and kept with it (colorize.selectors.catalogue).

It lists every installed model with its settings, notes and, when a model takes one, the 1000
ImageNet classes: rendering it was most of the home page's cost, and it depends only on the
installed models, the preselected model, whether the visitor is staff (install commands) and the
accepted file types, which are its key. A preselected model outside the installed ones (a
refused form sent back as it was) is rendered each time and not kept.
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils.safestring import SafeString

from .models import Batch
from .selectors import catalogue, model_pages

PICKER_TEMPLATE = "colorize/includes/model_picker.html"


def model_picker(context: dict[str, Any], *, is_staff: bool) -> SafeString:
    """The picker's HTML for an upload form `context` (colorize.views._upload_context)."""
    models = catalogue.current()
    selected = context["selected_model"]
    key = ("model-picker", selected, is_staff, context["accept"], get_script_prefix())
    keep = selected in ("", Batch.ALL_MODELS) or models.is_installed(selected)
    html = models.derived.get(key) if keep else None
    if html is None:
        html = render_to_string(
            PICKER_TEMPLATE,
            {
                **context,
                "is_staff": is_staff,
                "imagenet_classes": model_pages.imagenet_class_labels(context["choices"]),
            },
        )
        if keep:
            models.derived[key] = html
    return html
