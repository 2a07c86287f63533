from django.apps import AppConfig
from django.conf import settings


class ColorizeConfig(AppConfig):
    """Uploads, colorization jobs and their results."""

    name = "colorize"

    def ready(self) -> None:
        import coloria_site.checks  # noqa: F401  (registers the site's start-up checks)
        import ml

        from . import (  # noqa: F401  (connect their receivers)
            signals,  # sign-in keeps the visitor's anonymous work
            worker,  # worker processes: heartbeats, graceful stop
        )

        # Point the framework-free ml package at this site's weights, device and model cache.
        ml.configure(
            weights_dir=settings.COLORIA_WEIGHTS_DIR,
            device=settings.COLORIA_DEVICE,
            model_cache_mb=settings.COLORIA_MODEL_CACHE_MB,
            model_ttl=settings.COLORIA_MODEL_TTL,
        )
