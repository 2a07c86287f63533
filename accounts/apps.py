from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Sign-up, sign-in (rate-limited), profiles, password change and reset, API tokens,
    suspension by moderators and deleting one's account."""

    name = "accounts"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the sign-in receivers)
