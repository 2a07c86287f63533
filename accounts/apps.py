from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Sign-up, login, profiles, API tokens and quotas (built out in the accounts issue)."""

    name = "accounts"
