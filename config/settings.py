"""One settings module; everything that differs between machines comes from the environment.

Embedded defaults (no variable set): SQLite under var/, a local vLLM server started by
`serve_model`, the bundled SmolLM2-135M-Instruct, a secret key generated once under var/.
"""

import os
import secrets
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var")).resolve()


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false)")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept under var/."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(64))
    return key_file.read_text().strip()


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "labeling",
    "training",
    "serving",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# Database: DATABASE_URL, else SQLite in WAL mode under var/.
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
# Connections are kept for a minute between requests, and checked before a request reuses one:
# after a database restart, each worker's kept connection is dead and would fail its next
# request with a 500 (tests/faults/test_postgres_restart.py).
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server and the worker read while one of them writes;
        # IMMEDIATE takes the write lock up front instead of failing on upgrade.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
    # Tests get a file database like production's, not Django's default in-memory one: its
    # shared cache takes table locks that ignore the busy timeout, so threads writing at once
    # failed with "database table is locked". One file per test process.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"loopwork-test-{os.getpid()}.sqlite3")
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "labeling:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"

# Security. HTTPS-only behaviour follows DEBUG unless SECURE_HTTPS says otherwise
# (for example behind a proxy on a trusted network).
SECURE_HTTPS = env_bool("SECURE_HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = SECURE_HTTPS
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000 if SECURE_HTTPS else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HTTPS
SECURE_HSTS_PRELOAD = SECURE_HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
if env_bool("BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Upload limits: prompt files larger than this are refused before they are read.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Content-Security-Policy (django-csp): no inline script or style anywhere; htmx's inline
# indicator style is switched off in base.html, and the Django admin needs nothing inline.
# The API docs page loosens style-src for itself only (labeling.api.views.docs).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# Prompt files uploaded through the API larger than this are refused before they are read.
PROMPT_IMPORT_MAX_BYTES = int(os.environ.get("PROMPT_IMPORT_MAX_BYTES", 50 * 1024 * 1024))

REST_FRAMEWORK = {
    # Token first: an anonymous request is answered 401 with a WWW-Authenticate header.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "labeling.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "60/minute"),
        "user": os.environ.get("API_THROTTLE_USER", "1200/minute"),
        # The token endpoint (a password check): per client IP.
        "login": os.environ.get("API_THROTTLE_LOGIN", "10/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Loopwork API",
    "DESCRIPTION": "Label, export, train and serve.",
    "VERSION": "0.1.0",
    # Swagger UI from the drf-spectacular-sidecar package's static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ExportFormatEnum": "labeling.models.export.DatasetExport.Format",
        "ImportFormatEnum": "labeling.imports.formats.Format",
        "RefusalCodeEnum": "core.refusals.RefusalCode",
        "TaskKindEnum": "labeling.models.project.TaskKind",
    },
}

# Background jobs: the Django task API (django-tasks backport) with the ORM queue.
TASKS = {
    "default": {
        "BACKEND": os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default", "generation", "training"],
    }
}

ASSIGNMENT_LOCK_SECONDS = int(os.environ.get("ASSIGNMENT_LOCK_SECONDS", 15 * 60))  # task lock
# The workspace holds the annotator's next task off-screen and shows it the moment they submit.
WORKSPACE_PRELOAD = env_bool("WORKSPACE_PRELOAD", True)

# Model serving.
VLLM_URLS = env_list("VLLM_URLS")  # empty: the local server started by `serve_model`
# Per-request seeds for the servers in VLLM_URLS (the local CPU server never gets them).
VLLM_SEND_SEED = env_bool("VLLM_SEND_SEED", True)
# Servers in VLLM_URLS with an agent beside each (python -m serving.vllm.agent): the agents
# authenticate with this token, fetch the adapters over HTTP, and publishing waits (at most
# SERVING_AGENT_PUBLISH_TIMEOUT seconds) until every server's agent reports the adapter loaded.
# Empty: no agent is let in, and publishing loads adapters onto the servers by path itself.
SERVING_AGENT_TOKEN = os.environ.get("SERVING_AGENT_TOKEN", "").strip()
SERVING_AGENT_POLL_SECONDS = float(os.environ.get("SERVING_AGENT_POLL_SECONDS", "5"))
SERVING_AGENT_PUBLISH_TIMEOUT = float(os.environ.get("SERVING_AGENT_PUBLISH_TIMEOUT", "300"))
VLLM_HOST = "127.0.0.1"
VLLM_PORT = int(os.environ.get("VLLM_PORT", "8100"))
VLLM_PYTHON = Path(os.environ.get("VLLM_PYTHON", BASE_DIR / ".venv-vllm" / "bin" / "python"))
MODELS_DIR = VAR_DIR / "models"
BASE_MODEL_DIR = Path(os.environ.get("BASE_MODEL_DIR", MODELS_DIR / "SmolLM2-135M-Instruct"))
BASE_MODEL_NAME = os.environ.get("BASE_MODEL_NAME", "SmolLM2-135M-Instruct")
# How prompts are put to the base model: chat (its chat template, /v1/chat/completions) or
# text (the project's text template, /v1/completions); auto reads BASE_MODEL_DIR (no chat
# template: text). Set it for servers in VLLM_URLS whose model directory is not here.
BASE_MODEL_PROMPT_STYLE = os.environ.get("BASE_MODEL_PROMPT_STYLE", "auto").strip().lower()
if BASE_MODEL_PROMPT_STYLE not in ("auto", "chat", "text"):
    raise ImproperlyConfigured(
        f"BASE_MODEL_PROMPT_STYLE={BASE_MODEL_PROMPT_STYLE!r} is not one of auto, chat, text"
    )
EXPORTS_DIR = VAR_DIR / "exports"
# A command that starts training runs on several processes, e.g. `accelerate launch
# --num_processes 8` (training.engine.launch); empty: the worker trains in its own process.
TRAINING_LAUNCHER = os.environ.get("TRAINING_LAUNCHER", "").strip()
LOG_DIR = VAR_DIR / "log"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
