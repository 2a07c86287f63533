"""Coloria's settings: one module, every value from the environment with a working default.

Defaults give the embedded setup (SQLite file, django-q2's ORM broker, local-memory cache).
DATABASE_URL switches to PostgreSQL; REDIS_URL moves the queue broker and the cache to Redis.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from coloria_site.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_path,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("COLORIA_DEBUG", False)
SECRET_KEY = env_str("COLORIA_SECRET_KEY")
# Without a key of its own the site cannot be trusted with sessions, password-reset links or
# callback signatures (all derive from the key): every process that serves or works refuses to
# start (coloria_site.checks, and wsgi.py / asgi.py) unless COLORIA_DEBUG is on. This stand-in
# lets tests and management commands such as `check` run; scripts/run-site makes a real one.
COLORIA_SECRET_KEY_MISSING = not SECRET_KEY
if COLORIA_SECRET_KEY_MISSING:
    SECRET_KEY = "coloria-insecure-development-key-not-for-serving"  # noqa: S105
ALLOWED_HOSTS = env_list("COLORIA_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("COLORIA_CSRF_TRUSTED_ORIGINS", [])
CSRF_FAILURE_VIEW = "coloria_site.errors.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Before django_q: its `qcluster` command is colorize's (one that stops cleanly on a SIGTERM
    # to every process of the cluster: colorize/management/commands/qcluster.py).
    "colorize",
    "django_q",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served locally (no CDN)
    "accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.DeviceCookieMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "coloria_site.middleware.ContentSecurityPolicyMiddleware",
]

# A strict Content-Security-Policy for Coloria's own pages (empty disables it).
COLORIA_CONTENT_SECURITY_POLICY = env_str(
    "COLORIA_CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
)

ROOT_URLCONF = "coloria_site.urls"
WSGI_APPLICATION = "coloria_site.wsgi.application"
ASGI_APPLICATION = "coloria_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Data -----------------------------------------------------------------------------------
DATA_DIR = env_path("COLORIA_DATA_DIR", BASE_DIR / "var")
DATA_DIR.mkdir(parents=True, exist_ok=True)
COLORIA_DATA_DIR = DATA_DIR  # evaluation figures live in COLORIA_DATA_DIR / "evaluations"
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL ({exc})") from exc
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "coloria.sqlite3",
            # The web server and the worker write to one file: wait for locks instead of failing.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
            # Opening a connection costs a web request about 1.5 ms of CPU (Django registers its
            # SQL functions on each): scripts/serve keeps them for 60 s in the web server. Off
            # elsewhere (0): a queue worker forks its processes, which must not share one.
            "CONN_MAX_AGE": env_int("COLORIA_DB_CONN_MAX_AGE", 0, minimum=0),
            # A file, not memory, so that a worker process started by a test sees the test data.
            "TEST": {"NAME": str(DATA_DIR / "test-coloria.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

MEDIA_ROOT = env_path("COLORIA_MEDIA_ROOT", DATA_DIR / "media")
# Media is served by views that check who may see it, never as public static files.
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env_path("COLORIA_STATIC_ROOT", DATA_DIR / "static")

# --- Photo storage (#22): uploads and results, STORAGES["default"] ---------------------------
# Originals, renditions, reference photos and results go through Django's storage API: the
# local disk under MEDIA_ROOT by default, or an S3-compatible bucket (django-storages, boto3)
# when COLORIA_S3_BUCKET is set, so that web servers and workers on other machines share them.
# Objects are private (no ACL granting anyone else) and their URLs never reach browsers (no
# querystring auth): every download goes through Coloria's permission-checked views, which read
# them with storage.open.
COLORIA_S3_BUCKET = env_str("COLORIA_S3_BUCKET")
if COLORIA_S3_BUCKET:
    PHOTO_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": COLORIA_S3_BUCKET,
            # Empty means AWS itself; MinIO, Ceph, R2, Garage... give their address.
            "endpoint_url": env_str("COLORIA_S3_ENDPOINT_URL") or None,
            "region_name": env_str("COLORIA_S3_REGION") or None,
            # Empty: boto3's own chain (instance role, AWS_* variables, ~/.aws).
            "access_key": env_str("COLORIA_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("COLORIA_S3_SECRET_ACCESS_KEY") or None,
            # A folder inside the bucket, for a bucket shared with other things.
            "location": env_str("COLORIA_S3_PREFIX").strip("/"),
            # No ACL header: objects are private to the bucket's owner by default, and buckets
            # with ACLs disabled (AWS's default since 2023) refuse any ACL but the owner's.
            "default_acl": None,
            "querystring_auth": False,
            # Names are random (colorize.models); never replace an object that exists.
            "file_overwrite": False,
        },
    }
else:
    PHOTO_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
# Only the "default" entry is set here; "staticfiles" is Django's unless set elsewhere.
STORAGES = {
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    **globals().get("STORAGES", {}),
    "default": PHOTO_STORAGE,
}
# --- end of photo storage -------------------------------------------------------------------

# --- Colorization -----------------------------------------------------------------------------
COLORIA_WEIGHTS_DIR = env_path("COLORIA_WEIGHTS_DIR", BASE_DIR / "weights")
COLORIA_DEVICE = env_choice("COLORIA_DEVICE", "auto", ("auto", "cpu", "cuda"))
COLORIA_DEFAULT_MODEL = env_str("COLORIA_DEFAULT_MODEL", "")
COLORIA_MAX_UPLOAD_BYTES = env_int("COLORIA_MAX_UPLOAD_MB", 20, minimum=1) * 1024 * 1024
COLORIA_MAX_PIXELS = env_int("COLORIA_MAX_MEGAPIXELS", 40, minimum=1) * 1_000_000
COLORIA_MAX_BATCH = env_int("COLORIA_MAX_BATCH", 5, minimum=1)
COLORIA_JOB_TIMEOUT = env_int("COLORIA_JOB_TIMEOUT", 600, minimum=10)
# Films (issue #24, colorize.services.video): MP4, MOV, WebM, AVI or MKV up to these limits
# (a landscape film's long side, its short side). A film runs in slices of at most
# COLORIA_VIDEO_SLICE_SECONDS (kept below COLORIA_JOB_TIMEOUT, so the task time limit never kills
# one: each slice goes on from the frames the last one kept in COLORIA_DATA_DIR/films), and is
# failed once its slices together pass COLORIA_VIDEO_MAX_RUN_SECONDS. Its progress is written
# at most every COLORIA_VIDEO_PROGRESS_SECONDS, and a cancel is seen as quickly.
COLORIA_VIDEO_MAX_SECONDS = env_int("COLORIA_VIDEO_MAX_SECONDS", 60, minimum=1)
COLORIA_VIDEO_MAX_BYTES = env_int("COLORIA_VIDEO_MAX_MB", 200, minimum=1) * 1024 * 1024
COLORIA_VIDEO_MAX_SIDE = env_int("COLORIA_VIDEO_MAX_SIDE", 1920, minimum=16)
COLORIA_VIDEO_MAX_SHORT_SIDE = env_int("COLORIA_VIDEO_MAX_SHORT_SIDE", 1080, minimum=16)
COLORIA_VIDEO_SLICE_SECONDS = env_int(
    "COLORIA_VIDEO_SLICE_SECONDS", max(5, COLORIA_JOB_TIMEOUT - 120), minimum=1
)
if COLORIA_VIDEO_SLICE_SECONDS >= COLORIA_JOB_TIMEOUT:
    raise ImproperlyConfigured(
        "COLORIA_VIDEO_SLICE_SECONDS must stay below COLORIA_JOB_TIMEOUT (the task time limit), "
        "with room to load the model and store the film: a film's run would be killed."
    )
COLORIA_VIDEO_MAX_RUN_SECONDS = env_int("COLORIA_VIDEO_MAX_RUN_SECONDS", 4 * 3600, minimum=1)
COLORIA_VIDEO_PROGRESS_SECONDS = 1.0
COLORIA_VIDEO_WORK_DIR = env_path("COLORIA_VIDEO_WORK_DIR", DATA_DIR / "films")
# Run jobs inside the web request instead of the queue (tests, debugging).
COLORIA_SYNC_JOBS = env_bool("COLORIA_SYNC_JOBS", False)
# Photos sent without an account (and their results) are deleted this long after they are done.
COLORIA_ANONYMOUS_TTL_MINUTES = env_int("COLORIA_ANONYMOUS_TTL_MINUTES", 10, minimum=1)
# Daily quotas: jobs (one image through one model) per rolling 24 hours, per account and per
# anonymous client (by address). 0 turns a quota off.
COLORIA_DAILY_JOBS_PER_USER = env_int("COLORIA_DAILY_JOBS_PER_USER", 200, minimum=0)
COLORIA_DAILY_JOBS_PER_ANONYMOUS = env_int("COLORIA_DAILY_JOBS_PER_ANONYMOUS", 20, minimum=0)
# Uploads bigger than this go to a temporary file rather than memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Worker (django-q2) -----------------------------------------------------------------------
# timeout < retry, or a long job is handed to a second worker while the first still runs it.
# Liveness of running jobs (colorize.services.recovery): a worker beats this often while it runs a
# job; a running job not heard from for COLORIA_WORKER_LOST_SECONDS is taken for lost (its worker
# died) and queued again, up to COLORIA_JOB_MAX_ATTEMPTS runs in all; a worker asked to stop
# (SIGTERM) finishes its job within COLORIA_STOP_GRACE_SECONDS or hands it back. Keep the grace
# below your supervisor's stop timeout (systemd 90 s, Kubernetes 30 s, Docker 10 s).
COLORIA_HEARTBEAT_SECONDS = env_int("COLORIA_HEARTBEAT_SECONDS", 10, minimum=1)
COLORIA_WORKER_LOST_SECONDS = env_int("COLORIA_WORKER_LOST_SECONDS", 60, minimum=2)
COLORIA_STOP_GRACE_SECONDS = env_int("COLORIA_STOP_GRACE_SECONDS", 20, minimum=0)
COLORIA_JOB_MAX_ATTEMPTS = env_int("COLORIA_JOB_MAX_ATTEMPTS", 2, minimum=1)

# Queues. Every job goes to the queue named COLORIA_QUEUE_NAME unless COLORIA_GPU_QUEUE is on:
# then the jobs of models that need a GPU to be practical (ml's ModelSpec.needs_gpu) go to
# "<COLORIA_QUEUE_NAME>-gpu" (colorize.queues). A qcluster process serves one queue: the one
# COLORIA_WORKER_QUEUES names ("cpu" or "gpu"); its default "cpu,gpu" means every job, which one
# process can do only while the queues are not split (coloria_site.checks says so at start).
COLORIA_QUEUE_NAME = env_str("COLORIA_QUEUE_NAME", "coloria")
COLORIA_GPU_QUEUE = env_bool("COLORIA_GPU_QUEUE", False)
COLORIA_WORKER_QUEUES = tuple(
    dict.fromkeys(q.lower() for q in env_list("COLORIA_WORKER_QUEUES", ["cpu", "gpu"]))
)
if not COLORIA_WORKER_QUEUES or set(COLORIA_WORKER_QUEUES) - {"cpu", "gpu"}:
    raise ImproperlyConfigured(
        "COLORIA_WORKER_QUEUES names the queues a worker serves: cpu, gpu or cpu,gpu, not "
        f"{','.join(COLORIA_WORKER_QUEUES)!r}"
    )
COLORIA_GPU_QUEUE_NAME = f"{COLORIA_QUEUE_NAME}-gpu"
# Models stay loaded in a worker while they fit in COLORIA_MODEL_CACHE_MB (0: no limit; least
# recently used ones are unloaded first) and were used within COLORIA_MODEL_TTL seconds (0: for
# ever). Sizes are the models' weights in memory (parameters and buffers).
COLORIA_MODEL_CACHE_MB = env_int("COLORIA_MODEL_CACHE_MB", 0, minimum=0)
COLORIA_MODEL_TTL = env_int("COLORIA_MODEL_TTL", 0, minimum=0)

Q_CLUSTER = {
    # Workers only take tasks of clusters with their name: tests use their own. The name is also
    # the salt of the tasks' signatures and the prefix of the workers' stats: one per site.
    "name": COLORIA_QUEUE_NAME,
    "workers": env_int("COLORIA_WORKERS", 1, minimum=1),
    "timeout": COLORIA_JOB_TIMEOUT,
    "retry": COLORIA_JOB_TIMEOUT + 120,
    "max_attempts": 2,
    "ack_failures": True,
    # Recycle worker processes now and then to hand back memory that models fragment.
    "recycle": 50,
    "save_limit": 500,
    # Tasks a cluster takes from the broker ahead of running them: few, so that a cluster that
    # dies takes little with it (the sweeper re-queues it) and idle machines are not starved.
    "queue_limit": env_int("COLORIA_WORKERS", 1, minimum=1),
    "catch_up": False,
    "sync": COLORIA_SYNC_JOBS,
    "poll": 0.5,
    # Lets `qcluster --name <queue>` (django-q2 reads it into Q_CLUSTER_NAME) serve any queue.
    "ALT_CLUSTERS": {},
}
if COLORIA_GPU_QUEUE and COLORIA_WORKER_QUEUES == ("gpu",):
    # The GPU machine's worker takes the GPU queue. Scheduled tasks (the sweep, expiry) are run
    # by the workers of the main queue only (django-q2 runs a schedule without a cluster there).
    Q_CLUSTER["cluster_name"] = COLORIA_GPU_QUEUE_NAME
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- REST API (colorize.api) ---------------------------------------------------------------


def _api_rate(name: str, default: str) -> str | None:
    rate = env_str(name, default).strip()
    return None if rate.lower() == "off" else rate


REST_FRAMEWORK = {
    # Token for scripts first, so an unauthenticated request gets 401 with
    # `WWW-Authenticate: Token`; the session (with CSRF) serves the site's own JavaScript.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "colorize.api.errors.exception_handler",
    # Two scopes (colorize.api.throttling): requests that queue model runs, and everything else.
    # "off" lifts a scope's limit (a load measurement: DRF keeps one timestamp per request
    # within the period, so a huge rate would make every request read and write a long list).
    "DEFAULT_THROTTLE_RATES": {
        "submit": _api_rate("COLORIA_API_SUBMIT_RATE", "20/minute"),
        "read": _api_rate("COLORIA_API_READ_RATE", "300/minute"),
    },
    # `?format=` chooses the image format of a result download, not a DRF renderer.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Coloria API",
    "DESCRIPTION": "Colorize black-and-white photos from scripts and apps. Authenticate with "
    "`Authorization: Token <key>`; anonymous clients may list models and read published jobs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,  # multipart uploads get their own request component
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "colorize.api.errors.add_error_components",
    ],
}
# Job callbacks may target only https URLs on public addresses unless this is set (tests, a
# local development receiver).
COLORIA_CALLBACK_ALLOW_PRIVATE = env_bool("COLORIA_CALLBACK_ALLOW_PRIVATE", False)
# The site's public address (https://coloria.example): absolute links where no request gives
# one, as in job callbacks (else their links are paths).
COLORIA_SITE_URL = env_str("COLORIA_SITE_URL", "").rstrip("/")

# --- Auth, i18n -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {
        # Accounts are made from an email address (which is also the username): compare with
        # it, so the message names the field people actually typed.
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "first_name", "last_name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in accepts an email address or a username (accounts.backends); it refuses, with a clear
# message, while too many attempts failed for that name or from that address.
AUTHENTICATION_BACKENDS = ["accounts.backends.EmailOrUsernameBackend"]
# Django's database sessions, read with SQL compiled once per process (coloria_site.sessions).
SESSION_ENGINE = "coloria_site.sessions"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "colorize:history"
LOGOUT_REDIRECT_URL = "colorize:home"
COLORIA_LOGIN_MAX_FAILURES = env_int("COLORIA_LOGIN_MAX_FAILURES", 5, minimum=1)  # per name
COLORIA_LOGIN_MAX_FAILURES_PER_ADDRESS = env_int(
    "COLORIA_LOGIN_MAX_FAILURES_PER_ADDRESS", 20, minimum=1
)
COLORIA_LOGIN_WINDOW_MINUTES = env_int("COLORIA_LOGIN_WINDOW_MINUTES", 15, minimum=1)
# From a browser that signed in to the account before, failures count for that browser alone.
COLORIA_LOGIN_MAX_FAILURES_PER_DEVICE = env_int(
    "COLORIA_LOGIN_MAX_FAILURES_PER_DEVICE", 10, minimum=1
)
# Per hour: accounts made from one address, password resets asked from one address, and emails
# (reset or verification links) sent to one inbox.
COLORIA_SIGNUPS_PER_ADDRESS = env_int("COLORIA_SIGNUPS_PER_ADDRESS", 5, minimum=1)
COLORIA_RESETS_PER_ADDRESS = env_int("COLORIA_RESETS_PER_ADDRESS", 10, minimum=1)
COLORIA_EMAILS_PER_INBOX = env_int("COLORIA_EMAILS_PER_INBOX", 3, minimum=1)
# A new account has the anonymous daily quota until it follows the link emailed to it.
COLORIA_EMAIL_VERIFY_DAYS = env_int("COLORIA_EMAIL_VERIFY_DAYS", 7, minimum=1)
# Requests with an unknown API token, per address and 10 minutes, before they get 429.
COLORIA_INVALID_TOKENS_PER_ADDRESS = env_int("COLORIA_INVALID_TOKENS_PER_ADDRESS", 20, minimum=1)
# Behind N reverse proxies, the client's address is the Nth from the right of X-Forwarded-For
# (0: REMOTE_ADDR; a client could otherwise write its own X-Forwarded-For and dodge the limits).
COLORIA_TRUSTED_PROXIES = env_int("COLORIA_TRUSTED_PROXIES", 0, minimum=0)

# --- HTTPS (production) -----------------------------------------------------------------------
# COLORIA_HTTPS=true when people reach the site over TLS (directly or through a proxy): cookies
# are sent over HTTPS only, plain HTTP is redirected, and browsers are told to remember it (HSTS).
COLORIA_HTTPS = env_bool("COLORIA_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = COLORIA_HTTPS
SECURE_SSL_REDIRECT = env_bool("COLORIA_SSL_REDIRECT", COLORIA_HTTPS)
SECURE_HSTS_SECONDS = env_int("COLORIA_HSTS_SECONDS", 31_536_000 if COLORIA_HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("COLORIA_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("COLORIA_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = []
if not SECURE_HSTS_PRELOAD:
    # Preloading commits the whole domain to HTTPS in browsers' built-in lists: an owner's
    # decision (COLORIA_HSTS_PRELOAD=true), not a default worth a warning on every deploy check.
    SILENCED_SYSTEM_CHECKS.append("security.W021")
if COLORIA_TRUSTED_PROXIES:
    # The TLS-terminating proxy says how the client came in; links and redirects follow it.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Email (password reset) -------------------------------------------------------------------
# Printed to the console unless an SMTP server is configured.
COLORIA_EMAIL_HOST = env_str("COLORIA_EMAIL_HOST")
if COLORIA_EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = COLORIA_EMAIL_HOST
    EMAIL_PORT = env_int("COLORIA_EMAIL_PORT", 587, minimum=1)
    EMAIL_HOST_USER = env_str("COLORIA_EMAIL_USER")
    EMAIL_HOST_PASSWORD = env_str("COLORIA_EMAIL_PASSWORD")
    EMAIL_USE_TLS = env_bool("COLORIA_EMAIL_USE_TLS", True)
    EMAIL_USE_SSL = env_bool("COLORIA_EMAIL_USE_SSL", False)
    if EMAIL_USE_TLS and EMAIL_USE_SSL:
        raise ImproperlyConfigured(
            "COLORIA_EMAIL_USE_TLS and COLORIA_EMAIL_USE_SSL cannot both be true "
            "(set COLORIA_EMAIL_USE_TLS=false for SSL on port 465)"
        )
    EMAIL_TIMEOUT = env_int("COLORIA_EMAIL_TIMEOUT", 10, minimum=1)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("COLORIA_FROM_EMAIL", "Coloria <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
PASSWORD_RESET_TIMEOUT = env_int("COLORIA_PASSWORD_RESET_HOURS", 24, minimum=1) * 3600
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("COLORIA_LOG_LEVEL", "INFO")},
}

# --- Production serving (#22: scripts/serve, health, X-Accel-Redirect) ----------------------
# Kept in one block at the end: it only adds to what is defined above.
# /healthz and /readyz are answered before any other middleware (coloria_site.health): a load
# balancer's probe comes over plain HTTP, often with the machine's address as its Host.
MIDDLEWARE.insert(0, "coloria_site.health.HealthCheckMiddleware")
# Static files from the web process itself (no separate file server needed), right after
# SecurityMiddleware so that they skip sessions, CSRF and the rest.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
# scripts/serve collects the static files (compressed, with content hashes in their names, which
# WhiteNoise serves with far-future cache headers) and turns this on. Without it (runserver, the
# tests) files come straight from static/ and {% static %} needs no manifest.
COLORIA_STATIC_MANIFEST = env_bool("COLORIA_STATIC_MANIFEST", False)
STORAGES = globals().get("STORAGES") or {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
}
STORAGES["staticfiles"] = {
    "BACKEND": "coloria_site.static_storage.CachedManifestStaticFilesStorage"
    if COLORIA_STATIC_MANIFEST
    else "django.contrib.staticfiles.storage.StaticFilesStorage"
}
WHITENOISE_USE_FINDERS = not COLORIA_STATIC_MANIFEST
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing one
WHITENOISE_AUTOREFRESH = DEBUG
# Behind nginx: private downloads (originals, results) answer with an empty body and
# `X-Accel-Redirect: <prefix><file's storage name>` once the permission check passed, and nginx
# sends the file from an `internal` location (README, Production). Local file storage only.
COLORIA_ACCEL_REDIRECT_PREFIX = env_str("COLORIA_ACCEL_REDIRECT_PREFIX", "")
if COLORIA_ACCEL_REDIRECT_PREFIX and not COLORIA_ACCEL_REDIRECT_PREFIX.startswith("/"):
    raise ImproperlyConfigured("COLORIA_ACCEL_REDIRECT_PREFIX must start with /, e.g. /protected/")
# Thumbnails of published photos may be kept this long by browsers and shared caches.
COLORIA_PUBLIC_CACHE_SECONDS = env_int("COLORIA_PUBLIC_CACHE_SECONDS", 3600, minimum=0)
if DATABASE_URL:
    # Behind pgbouncer's transaction pooling: 0 (the pool keeps the connections, not Django).
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("COLORIA_DB_CONN_MAX_AGE", 60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # a kept connection the server closed
# /readyz: ready while at least one worker was seen within this many seconds.
COLORIA_READY_WORKER_SECONDS = env_int("COLORIA_READY_WORKER_SECONDS", 60, minimum=1)
if not REDIS_URL:
    # django-q2 keeps each cluster's status in a cache; the ORM broker's default (local memory)
    # is per process, so the web process could never see a worker. A file cache in the data
    # directory is shared by the processes of one instance (and, like its database, by no other).
    CACHES["django-q"] = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(DATA_DIR / "cache" / "django-q"),
    }
    Q_CLUSTER["cache"] = "django-q"
