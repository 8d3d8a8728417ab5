"""Switchyard settings: read once, here, from the environment (and an optional `.env`).

With nothing set the app runs embedded: SQLite, the Django-Q ORM broker and an in-memory
channel layer. `DATABASE_URL` (PostgreSQL via psycopg 3) and `REDIS_URL` (Django-Q Redis
broker + channels-redis) switch to the scaled setup.
"""

import os
from pathlib import Path

import environ
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "config.urls.csrf_failure"
# Where the product is reached from outside: used for webhook, form and callback URLs.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="").rstrip("/")
# The address `manage.py serve` listens on (it sets this for its own processes): callback
# URLs made by a worker, outside any request, point there when PUBLIC_BASE_URL is unset.
SERVE_BASE_URL = env("SERVE_BASE_URL", default="").rstrip("/")

LOCAL_STATE_DIR = Path(env("SWITCHYARD_STATE_DIR", default=str(BASE_DIR / "var")))


def _local_secret(name: str, make) -> str:
    """A secret kept in a git-ignored local file, generated on first use."""
    path = LOCAL_STATE_DIR / name
    if path.exists():
        return path.read_text().strip()
    LOCAL_STATE_DIR.mkdir(parents=True, exist_ok=True)
    value = make()
    path.write_text(value)
    path.chmod(0o600)
    return value


if not SECRET_KEY:
    SECRET_KEY = _local_secret(
        "secret_key", lambda: Fernet.generate_key().decode() + Fernet.generate_key().decode()
    )
FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY", default="") or _local_secret(
    "field_encryption.key", lambda: Fernet.generate_key().decode()
)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files: no CDN
    "django_q",
    "channels",
    "encrypted_model_fields",
    "workflows",
    "runs",
    "connectors",
    "providers",
]

MIDDLEWARE = [
    "config.url_nul.RefuseNulInUrl",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "runs.ops.WebhookAnswersMiddleware",
]

ROOT_URLCONF = "config.urls"
APPEND_SLASH = False  # the API serves every path with and without a trailing slash itself

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

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
# The module `manage.py serve` runs as its web server: daphne, with JSON answers for what the HTTP
# layer refuses (oversized headers, bodies, bad requests).
SERVE_WEB_SERVER = "config.web_server"
# The Django-Q function a schedule row calls when it fires (rows naming older paths still work:
# runs.tasks keeps them as aliases).
SCHEDULE_FIRE_TASK = "runs.tasks.fire_schedule"


# --- Database -------------------------------------------------------------------------
def _sqlite_options(options: dict) -> dict:
    """Several processes (web, workers) write one SQLite file, however it is named (the
    default path or `DATABASE_URL=sqlite:///…`): wait for locks instead of failing, take the
    write lock when a transaction begins (IMMEDIATE: no deadlocking lock upgrades), and use
    WAL so readers never block the writer. Options given in the URL win."""
    return {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        **options,
    }


DATABASE_URL = env("DATABASE_URL", default="")
SQLITE_TEST_PATH = env("SQLITE_TEST_PATH", default=str(LOCAL_STATE_DIR / "test.sqlite3"))
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    if not DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if env("DB_TEST_NAME", default=""):  # keeps concurrent test sessions on separate databases
        DATABASES["default"]["TEST"] = {"NAME": env("DB_TEST_NAME")}
    if DATABASES["default"]["ENGINE"].endswith("postgresql") and env.bool("DB_POOL", default=False):
        # The web server (serve turns this on for daphne) runs each request on its own
        # thread: persistent per-thread connections pile up until PostgreSQL refuses
        # clients. A bounded pool shares a few and makes busy threads wait instead. Never
        # in the Django-Q cluster: it forks workers, which would share pooled sockets.
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": env.int("DB_POOL_MAX_SIZE", default=16),
            "timeout": env.float("DB_POOL_TIMEOUT_S", default=30.0),
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("SQLITE_PATH", default=str(LOCAL_STATE_DIR / "switchyard.sqlite3")),
        }
    }
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["OPTIONS"] = _sqlite_options(DATABASES["default"].get("OPTIONS") or {})
    # Tests use a file too (an in-memory database is not shared by threads and processes).
    DATABASES["default"].setdefault("TEST", {}).setdefault("NAME", SQLITE_TEST_PATH)
    # Connections live on with their thread (request threads are kept: config.asgi_threads):
    # Django's SQLite set-up costs ~2 ms of CPU per connection.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("SQLITE_CONN_MAX_AGE", default=600))
IS_SQLITE = DATABASES["default"]["ENGINE"].endswith("sqlite3")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Queue, channels ------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
Q_WORKERS = env.int("Q_WORKERS", default=2)
# daphne processes under `manage.py serve`: one Python process uses one core at most, and
# runs a request waits for execute in the web process.
WEB_PROCESSES = env.int("WEB_PROCESSES", default=min(2, os.cpu_count() or 1))
# Request threads a web process keeps for the next requests (config.asgi_threads).
WEB_REQUEST_THREADS = env.int("WEB_REQUEST_THREADS", default=32)
# Niceness of the worker cluster under `manage.py serve`: when CPU is short, accepting
# requests goes before background execution (queued runs just wait a little longer).
WORKER_NICE = env.int("WORKER_NICE", default=5)
Q_CLUSTER = {
    "name": env("Q_CLUSTER_NAME", default="switchyard"),
    "workers": Q_WORKERS,
    "recycle": 500,
    # A run is bounded by its own timeout (max 1 h); retry must exceed timeout.
    "timeout": 3700,
    "retry": 3800,
    "max_attempts": 1,
    "save_limit": env.int("Q_SAVE_LIMIT", default=100),
    "ack_failures": True,
    "poll": env.float("Q_POLL", default=0.02),
    "guard_cycle": 0.5,
    "catch_up": False,
    "label": "Django-Q",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 5000, "expiry": 60},
        }
    }
else:
    Q_CLUSTER["orm"] = "default"
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Operations -------------------------------------------------------------------------
# Prometheus metrics at /metrics: counters from every process (web, workers) are kept in this
# directory (prometheus_client's multiprocess mode); `serve` empties it when it starts.
METRICS_DIR = Path(env("METRICS_DIR", default=str(LOCAL_STATE_DIR / "metrics")))
METRICS_DIR.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)  # read by prometheus_client at import
# /readyz waits at most this long for each dependency (database, broker, channel layer).
READYZ_TIMEOUT_S = env.float("READYZ_TIMEOUT_S", default=2.0)
# When set, /metrics wants `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# --- Product settings -----------------------------------------------------------------
ALLOW_PRIVATE_OUTBOUND = env.bool("ALLOW_PRIVATE_OUTBOUND", default=False)
MAX_STORED_PAYLOAD_BYTES = env.int("MAX_STORED_PAYLOAD_BYTES", default=256 * 1024)
RUN_RETENTION_DAYS = env.int("RUN_RETENTION_DAYS", default=30)
RUN_LEASE_SECONDS = env.int("RUN_LEASE_SECONDS", default=30)
# A pending/running run with no lease that has not moved for this long is queued again
# (at most this often), and failed with the reason after RUN_MAX_REQUEUES such tries.
RUN_ORPHAN_SECONDS = env.int("RUN_ORPHAN_SECONDS", default=300)
RUN_MAX_REQUEUES = env.int("RUN_MAX_REQUEUES", default=5)
# flow.subworkflow: how deep child runs may nest (a workflow calling itself stops here).
SUBWORKFLOW_MAX_DEPTH = env.int("SUBWORKFLOW_MAX_DEPTH", default=10)
ENGINE_MAX_THREADS = env.int("ENGINE_MAX_THREADS", default=8)
# Waits and retry delays shorter than this sleep in the worker; longer ones park the run.
WAIT_INLINE_MAX_S = env.float("WAIT_INLINE_MAX_S", default=60.0)
# Runs a web request waits for (webhook `respond: on_completion`, execute with `wait`) that
# each web process may execute itself, concurrently; beyond that they take the queue.
INLINE_RUNS = env.int("INLINE_RUNS", default=16)
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=1024 * 1024)
# Every request: a bigger body is a 413 (at the HTTP layer under `serve`, and in the ASGI app),
# more header lines or header bytes a 431; JSON nested deeper than MAX_JSON_DEPTH is a 400.
MAX_REQUEST_BODY_BYTES = max(
    env.int("MAX_REQUEST_BODY_BYTES", default=4 * 1024 * 1024), WEBHOOK_MAX_BODY_BYTES
)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES
MAX_REQUEST_HEADERS = env.int("MAX_REQUEST_HEADERS", default=200)
MAX_REQUEST_HEADER_BYTES = env.int("MAX_REQUEST_HEADER_BYTES", default=32 * 1024)
MAX_JSON_DEPTH = env.int("MAX_JSON_DEPTH", default=100)
MAX_RESPONSE_BYTES = env.int("MAX_RESPONSE_BYTES", default=10 * 1024 * 1024)
INBOUND_EMAIL_DOMAIN = env("INBOUND_EMAIL_DOMAIN", default="inbound.switchyard.local")
# `manage.py serve` also runs `inbound_smtp` on this port when set (0: off; `make run` uses 2525).
INBOUND_SMTP_PORT = env.int("INBOUND_SMTP_PORT", default=0)
# `make run` offers a demo login (`demo`); DEMO_USER=false leaves it out. The published password
# is refused by `serve` beyond loopback with DEBUG off (workflows.demo_login).
PUBLISHED_DEMO_PASSWORD = "switchyard-demo"
DEMO_USER = env.bool("DEMO_USER", default=True)
DEMO_PASSWORD = env("DEMO_PASSWORD", default=PUBLISHED_DEMO_PASSWORD)

# --- Auth, API ------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "config.json_input.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    "TITLE": "Switchyard API",
    "DESCRIPTION": "Workflows, runs, connectors, credentials and provider connections.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "runs.models.RunStatus",
        "NodeStatusEnum": "runs.models.NodeStatus",
        "WorkflowStatusEnum": "workflows.models.WorkflowStatus",
        "ExecutionStatusEnum": "connectors.models.ExecutionStatus",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.add_error_responses",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = LOCAL_STATE_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True

# LOG_FORMAT=json: one JSON object a line, with run_id/node_id where known (config.log_format).
LOG_FORMAT = env("LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "config.log_format.JsonFormatter"},
    },
    "filters": {"hook_tokens": {"()": "config.log_format.MaskHookTokens"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["hook_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
    "loggers": {
        "switchyard": {"level": env("LOG_LEVEL", default="INFO"), "propagate": True},
        "django_q": {"level": "WARNING"},
        # Each run's own log entries (node messages), also kept in ExecutionLog rows.
        "switchyard.run": {
            "level": env("RUN_LOG_LEVEL", default="INFO" if LOG_FORMAT == "json" else "WARNING")
        },
    },
}
