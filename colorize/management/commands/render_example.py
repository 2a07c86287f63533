"""manage.py render_example: make the home page's before/after example again (after the model
it shows has new weights): colorize.samples.render_example, saved into static/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from colorize import samples


class Command(BaseCommand):
    help = "Colorize the home page's example photo again with the model it names."

    def handle(self, *args: Any, **options: Any) -> None:
        target = Path(settings.BASE_DIR) / "static" / samples.EXAMPLE_STATIC
        samples.render_example().save(target, format="JPEG", quality=85, optimize=True)
        self.stdout.write(f"wrote {target} ({samples.EXAMPLE_MODEL})")
