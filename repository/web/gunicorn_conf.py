"""gunicorn's settings for Kho in production (the Dockerfile and docker-compose run it):

    gunicorn --config python:repository.web.gunicorn_conf 'repository.web:create_app()'

Threaded workers (one ingest and many reads at once per process), a timeout that restarts
a hung worker, bounded request lines and headers, and an access log on stdout in which
tokens are redacted (web/security.py). `kho serve` stays the development server.
Put a reverse proxy (nginx, Caddy) in front for TLS and slow clients; see docs/security.md.
"""
from repository.config import load_settings
from repository.web.security import redact_token_logs

_settings = load_settings()

bind = f"{_settings.host}:{_settings.port}"
worker_class = "gthread"
workers = _settings.web_workers
threads = _settings.web_threads
timeout = _settings.web_timeout
graceful_timeout = 30
keepalive = _settings.web_keepalive
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = "-"
errorlog = "-"
# Kho alone decides which X-Forwarded-* headers to believe (KHO_TRUSTED_PROXIES).
secure_scheme_headers: dict[str, str] = {}
forwarded_allow_ips = "127.0.0.1"


def on_starting(server) -> None:
    redact_token_logs()  # the master's loggers too, before the first line is written


def post_worker_init(worker) -> None:
    redact_token_logs()
    if _settings.fixity_scheduler_in_serve:
        # As in `kho serve`: leases in the catalogue keep workers from checking one AIP twice.
        from repository.fixity.schedule import start_background_scheduler
        start_background_scheduler(_settings, worker.wsgi.extensions["kho"].catalog)
