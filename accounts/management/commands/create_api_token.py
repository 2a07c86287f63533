"""Create an API token for a user from the shell (until the accounts pages offer it)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import token_create


class Command(BaseCommand):
    help = "Create an API token for USER and print its key (shown this once only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="the user's username")
        parser.add_argument("name", nargs="?", default="script", help="what the token is for")

    def handle(self, *args: Any, user: str, name: str, **options: Any) -> None:
        model = get_user_model()
        try:
            owner = model.objects.get(**{model.USERNAME_FIELD: user})
        except model.DoesNotExist:
            raise CommandError(f"No user {user!r}.") from None
        token, key = token_create(owner, name)
        self.stderr.write(f"Token {token.name!r} ({token.prefix}…) for {user}; key:")
        self.stdout.write(key)
