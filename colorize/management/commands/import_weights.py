"""manage.py import_weights PATH --model KEY: install a weights file copied from elsewhere.

Official files must match their published SHA-256; own-trained files must load into their
network. See `ml.weights.install.import_file`.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ml.errors import WeightsFetchError
from ml.weights import install


class Command(BaseCommand):
    help = "Install a local weights file for a model after checking it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument("--model", required=True, metavar="KEY", help="weights key")

    def handle(self, *args, path: str, model: str, **options) -> None:
        try:
            installed = install.import_file(path, model)
        except WeightsFetchError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{model}: installed {installed}")
