import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coloria_site.settings")
application = get_asgi_application()

from coloria_site.checks import refuse_to_serve_without_secret_key  # noqa: E402 (needs settings)

refuse_to_serve_without_secret_key()
