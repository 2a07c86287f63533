"""manage.py fetch_weights [KEY ...]: download official weights into COLORIA_WEIGHTS_DIR.

The work is done by `ml.weights` (resumable, SHA-256 verified, atomic); this command only gives
it the site's weights directory and turns failures into a non-zero exit status.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ml.weights import install


class Command(BaseCommand):
    help = "Download official model weights (all of them when no KEY is given)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("keys", nargs="*", metavar="KEY", help="weights keys (see --list)")
        parser.add_argument("--list", action="store_true", help="list known weights and exit")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args, keys: list[str], list: bool, quiet: bool, **options) -> None:
        if list:
            for row in install.describe():
                where = row["installed"] or "not installed"
                self.stdout.write(f"{row['key']:<24} {row['kind']:<12} {where}")
            return
        failures = install.fetch_many(keys, out=self.stdout, progress=not quiet)
        if failures:
            raise CommandError(f"{failures} download(s) failed; see the messages above.")
