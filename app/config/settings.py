"""Settings, all read from the environment in this one module.

Every variable is optional. When ``DATABASE_URL`` or ``REDIS_URL`` is
unset, the URLs of the embedded services that ``scripts/stack.py`` starts
under ``.data/`` are used (it writes them to ``.data/services.env``).
"""

import base64
import hashlib
import os
import re
import secrets
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

APP_DIR = Path(__file__).resolve().parent.parent
BASE_DIR = APP_DIR.parent
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / ".data"))


def _env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_rate(name, default):
    """A DRF rate such as ``"10/min"``; ``off`` (or empty) turns it off.
    A malformed value stops the start, not a request."""
    value = os.environ.get(name, default).strip()
    if value.lower() in {"", "off", "none"}:
        return None
    if not re.fullmatch(r"\d+/(s|sec|m|min|h|hour|d|day)", value):
        raise ImproperlyConfigured(
            f"{name}={value!r}: expected a rate such as 10/min, or off"
        )
    return value


def _env_seconds_or_off(name, default):
    """A positive number of seconds, or None for ``off``. A malformed
    value stops the start, not the sweeper."""
    value = (os.environ.get(name) or default).strip()
    if value.lower() in {"off", "none"}:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < 10**7:
        raise ImproperlyConfigured(
            f"{name}={value!r}: expected a number of seconds, or off"
        )
    return seconds


def _env_seconds(name, default):
    """A positive number of seconds; ``off`` (or empty) gives None."""
    value = os.environ.get(name, str(default)).strip()
    if value.lower() in {"", "off", "none"}:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise ImproperlyConfigured(
            f"{name}={value!r}: expected a number of seconds, or off"
        )
    return seconds


def _embedded_services():
    """The URLs the embedded-services launcher wrote, if any."""
    found = {}
    path = DATA_DIR / "services.env"
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                found[key.strip()] = value.strip()
    return found


def _secret_key():
    """The key from the environment, else one generated once on disk."""
    key = os.environ.get("DJANGO_SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


_EMBEDDED = _embedded_services()

# prometheus-client's multiprocess mode (monitoring/multiproc.py): every
# process of the service on this machine writes its counts into files
# here, and GET /metrics adds them up. Set before anything imports
# prometheus_client. One directory per machine or container.
PROMETHEUS_MULTIPROC_DIR = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", str(DATA_DIR / "metrics")
)
Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)

SECRET_KEY = _secret_key()
DEBUG = _env_bool("DJANGO_DEBUG")
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get(
        "DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1"
    ).split(",")
    if host.strip()
]

# Security. Always on: no MIME sniffing, no framing, HttpOnly session
# cookies, no Referer across origins (Django's defaults, stated here).
# DJANGO_SECURE=1 is for a deployment served over HTTPS: it redirects
# HTTP to HTTPS, sends HSTS and marks cookies Secure. It is off by
# default because `make run` serves plain HTTP on localhost, where those
# would lock the browser out. See docs/security.md.
SECURE = _env_bool("DJANGO_SECURE")
SECURE_SSL_REDIRECT = _env_bool("DJANGO_SECURE_SSL_REDIRECT", SECURE)
SECURE_HSTS_SECONDS = int(
    os.environ.get("DJANGO_SECURE_HSTS_SECONDS", 31536000 if SECURE else 0)
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool(
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE
)
# Preloading is a promise to browsers that outlives this deployment: opt
# in on its own.
SECURE_HSTS_PRELOAD = _env_bool("DJANGO_SECURE_HSTS_PRELOAD")
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips
# it from clients): DJANGO_SECURE_PROXY_SSL_HEADER=1.
if _env_bool("DJANGO_SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = [
    origin.strip()
    for origin in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",")
    if origin.strip()
]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "core.views_errors.csrf_failure"
# Content-Security-Policy on every response (django-csp): scripts,
# styles, fonts and fetches only from the service itself, which serves
# Swagger UI (drf-spectacular-sidecar), the browsable API and the admin.
# No inline script runs but the one below; inline styles do (Swagger
# UI's page and the admin's widgets have them; a style cannot run code).
# Images also from data: URLs (Swagger UI's icons).
# One inline handler is let through by its hash: the logout link of the
# browsable API (DRF's ``optional_logout``), which must POST its form.
_DRF_LOGOUT_HANDLER = 'document.getElementById("logoutForm").submit()'
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": [
            "'self'",
            "'unsafe-hashes'",
            "'sha256-{}'".format(
                base64.b64encode(
                    hashlib.sha256(_DRF_LOGOUT_HANDLER.encode()).digest()
                ).decode()
            ),
        ],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# A login with no `next` lands on the browsable API's root, not on
# Django's default /accounts/profile/, which the service does not have.
LOGIN_REDIRECT_URL = "/api/"
# An operator's browser session lasts a working day, not two weeks.
SESSION_COOKIE_AGE = int(
    os.environ.get("DJANGO_SESSION_COOKIE_AGE", 8 * 60 * 60)
)
# So does an operator's API token (accounts/authentication.py); ``off``
# keeps it until revoked. Customers' API keys last until rotated or
# revoked.
OPERATOR_TOKEN_SECONDS = _env_seconds("OPERATOR_TOKEN_SECONDS", 8 * 60 * 60)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_rq",
    "core",
    "accounts",
    "orders",
    "ledger",
    "exchange",
    "monitoring",
]

MIDDLEWARE = [
    # Outermost: counts every answer, whichever layer gave it.
    "monitoring.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Near the top, so that every response has the policy, also one that
    # a middleware below answers (a 400 for a bad Host header).
    "core.middleware.StaticPolicyCSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Django's CommonMiddleware, its slash redirect keeping the method.
    "core.middleware.SlashMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.JsonErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The browsable API's pages under the service's name.
        "DIRS": [APP_DIR / "templates"],
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

DATABASE_URL = os.environ.get("DATABASE_URL") or _EMBEDDED.get(
    "DATABASE_URL", "postgres://localhost:5432/crypto"
)
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "600")),
        conn_health_checks=True,
        # Django's PostgreSQL backend; its health check asks the socket
        # before it asks the server (core/postgresql/base.py).
        engine="core.postgresql",
    )
}
DATABASES["default"].setdefault("OPTIONS", {})
# Fail fast when PostgreSQL is unreachable: the API answers 503 at once
# instead of hanging a web worker.
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 3)
DATABASES["default"]["TEST"] = {
    "NAME": os.environ.get("TEST_DATABASE_NAME") or None
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL") or _EMBEDDED.get(
    "REDIS_URL", "redis://localhost:6379/0"
)
RQ_QUEUES = {
    "default": {
        "URL": REDIS_URL,
        "DEFAULT_TIMEOUT": 600,
        "SOCKET_TIMEOUT": 2,
        "SOCKET_CONNECT_TIMEOUT": 2,
        # Jobs as JSON, never pickle: a job is data from Redis, and the
        # worker must not run what unpickling it would (orders/worker.py).
        "SERIALIZER": "rq.serializers.JSONSerializer",
    },
}
RQ = {"WORKER_CLASS": "orders.worker.PurchaseWorker"}
RQ_SHOW_ADMIN_LINK = True

# The shared cache: rate-limit counters that every web process sees.
# Short timeouts, because a cache that hangs would hang requests; the
# throttles fail open when Redis is down (core/throttling.py). Nothing
# may call cache.clear(): it would empty RQ's queues on the same Redis.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cache",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {
        "NAME": "django.contrib.auth.password_validation."
        "MinimumLengthValidator"
    },
    {
        "NAME": "django.contrib.auth.password_validation."
        "CommonPasswordValidator"
    },
    {
        "NAME": "django.contrib.auth.password_validation."
        "NumericPasswordValidator"
    },
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Requests larger than this are refused before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "core.parsers.BrowsableFormParser",
        "core.parsers.BrowsableMultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        # DRF's, keeping a refused form's input and field messages.
        "core.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
    # drf-spectacular's, with no docstring as a description.
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    # OPTIONS describes what each method takes, not what it answers.
    "DEFAULT_METADATA_CLASS": "core.metadata.Metadata",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # The client address of a throttle is REMOTE_ADDR unless the service
    # runs behind this many trusted proxies (X-Forwarded-For is
    # otherwise the client's to forge).
    "NUM_PROXIES": int(os.environ.get("DJANGO_NUM_PROXIES", "0")),
}

# Rate limits (core/throttling.py), counted in Redis across processes.
# Orders per principal: high enough never to slow a benchmark, low
# enough to stop a runaway client. Login attempts (every login path) per
# client address and name: slows password guessing; per client address,
# whatever the names: bounds the password hashing one address can cause.
ORDER_RATE = _env_rate("ORDER_RATE", "6000/min")
TOKEN_RATE = _env_rate("TOKEN_RATE", "10/min")
LOGIN_ADDRESS_RATE = _env_rate("LOGIN_ADDRESS_RATE", "30/min")

SPECTACULAR_SETTINGS = {
    "TITLE": "Crypto order service",
    "DESCRIPTION": (
        "Customers holding a USD balance buy cryptocurrency; orders are "
        "debited at once and bought at the exchange by a worker."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and docs are public: they ignore credentials, so a bad
    # token is not answered with a 401 in YAML.
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's and Redoc's files from the service (static files of
    # drf-spectacular-sidecar), not from a CDN on the admin's origin.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Three models have a "kind": each its own enum in the schema.
    "ENUM_NAME_OVERRIDES": {
        "LedgerEntryKindEnum": "accounts.models.LedgerEntry.Kind",
        "HouseLedgerEntryKindEnum": "accounts.models.HouseLedgerEntry.Kind",
        "CredentialEventKindEnum": "accounts.models.CredentialEvent.Kind",
    },
}

# LOG_FORMAT=json: one JSON object per line (core/logging.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip().lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "orders": {"level": "INFO"},
        "exchange": {"level": "INFO"},
    },
}

# The service's own knobs.
PURCHASE_THRESHOLD = Decimal(os.environ.get("PURCHASE_THRESHOLD", "10"))
EXCHANGE_LATENCY_SECONDS = float(
    os.environ.get("EXCHANGE_LATENCY_SECONDS", "5")
)
EXCHANGE_CLIENT = os.environ.get(
    "EXCHANGE_CLIENT", "exchange.simulated.SimulatedExchange"
)
DEFAULT_CUSTOMER_BALANCE = Decimal("100.00")
# Faults of the simulated exchange (see exchange/simulated.py); all off.
EXCHANGE_TRANSIENT_FAILURES = int(
    os.environ.get("EXCHANGE_TRANSIENT_FAILURES", "0")
)
EXCHANGE_TIMEOUT_AFTER_FILL = int(
    os.environ.get("EXCHANGE_TIMEOUT_AFTER_FILL", "0")
)
EXCHANGE_REJECT_CRYPTOS = [
    symbol.strip()
    for symbol in os.environ.get("EXCHANGE_REJECT_CRYPTOS", "").split(",")
    if symbol.strip()
]
# Purchases: how often and how long the worker tries the exchange.
PURCHASE_MAX_ATTEMPTS = int(os.environ.get("PURCHASE_MAX_ATTEMPTS", "5"))
PURCHASE_RETRY_BASE_SECONDS = float(
    os.environ.get("PURCHASE_RETRY_BASE_SECONDS", "2")
)
PURCHASE_LEASE_SECONDS = float(os.environ.get("PURCHASE_LEASE_SECONDS", "10"))
SWEEP_INTERVAL_SECONDS = float(os.environ.get("SWEEP_INTERVAL_SECONDS", "1"))
# A queued purchase whose doorbell rang longer ago than this is rung
# again by the sweeper (the first ring may have been lost with Redis).
PURCHASE_RERING_SECONDS = float(os.environ.get("PURCHASE_RERING_SECONDS", "5"))
# The bounded wait: a pool whose oldest order waited this long is bought
# with the house paying the rest of the threshold. "off" disables it.
POOL_MAX_WAIT_SECONDS = _env_seconds_or_off("POOL_MAX_WAIT_SECONDS", "60")
# Metrics (monitoring/): the scraper's bearer token for GET /metrics
# (operators need none); a worker's own metrics listener, off unless a
# port is given (for a worker with no web server on its machine).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None
WORKER_METRICS_PORT = int(os.environ.get("WORKER_METRICS_PORT") or 0) or None
WORKER_METRICS_HOST = os.environ.get("WORKER_METRICS_HOST") or "127.0.0.1"
# How long a process may quote a price from memory (see orders/prices.py).
PRICE_CACHE_SECONDS = float(os.environ.get("PRICE_CACHE_SECONDS", "1"))
