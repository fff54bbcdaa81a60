"""What every response carries to keep Kho's origin safe, and what the logs never hold.

- Security headers on every response: ``nosniff``, a referrer policy, framing refused
  (the viewer may be embedded by the sites named in ``KHO_VIEWER_FRAME_ANCESTORS``) and a
  strict Content-Security-Policy on Kho's own pages (scripts only from Kho itself).
- Deposited files are data, never code in Kho's origin: :func:`deposited_file_headers`
  makes every file either a download (``attachment``) or, for the few types a browser may
  show inline safely (images, PDF, plain text, audio, video), sandboxed by CSP.
- Tokens never reach a log: :class:`RedactTokens` rewrites ``token=…`` in every line the
  development server (werkzeug) or gunicorn writes about a request.
- Behind a reverse proxy, ``KHO_TRUSTED_PROXIES`` hops of ``X-Forwarded-*`` are believed
  (werkzeug's ProxyFix), and ``KHO_BASE_URL`` fixes the public address outright, so a
  forged ``Host`` header decides neither redirects nor the ids in IIIF documents.
"""
from __future__ import annotations

import logging
import re
from urllib.parse import quote, urlsplit

from flask import Flask, Response, request

# Kho's own pages: scripts and everything else from Kho only. Styles may be inline because
# Mirador's styling library injects <style> elements at run time; no script may be inline.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}")
# A deposited file shown inline runs in a sandbox: an opaque origin, no script, no forms.
FILE_CSP = ("sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; "
            "style-src 'unsafe-inline'")
# Types a browser renders without running anything of the file's (SVG and HTML are not here).
INLINE_TYPES = re.compile(r"^(image/(jpeg|png|gif|webp|tiff|jp2|jpx|bmp)|application/pdf|"
                          r"text/plain|audio/[\w.+-]+|video/[\w.+-]+)$")
TOKEN_IN_TEXT = re.compile(r"((?:^|[?&;\s\"'])(?:token|access_token)=)[^&\s\"';]*", re.IGNORECASE)


def init_app(app: Flask) -> None:
    settings = app.extensions["kho"].settings
    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,
                                x_port=hops, x_prefix=hops)
    if settings.base_url:
        app.wsgi_app = _FixedOrigin(app.wsgi_app, settings.base_url)
    ancestors = " ".join(settings.viewer_frame_ancestors.split()) or "'none'"
    page_csp = PAGE_CSP.format(ancestors="'none'")
    viewer_csp = PAGE_CSP.format(ancestors=ancestors)
    embeddable = settings.viewer_frame_ancestors.strip() != ""

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        viewer = request.endpoint == "viewer.view"
        if viewer and embeddable:
            headers.pop("X-Frame-Options", None)
        else:
            headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Content-Security-Policy", viewer_csp if viewer else page_csp)
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    redact_token_logs()


def deposited_file_headers(response: Response, logical_path: str, mime_type: str) -> None:
    """Serve a deposited file as data: inline only for safe types, and then sandboxed."""
    name = logical_path.rsplit("/", 1)[-1]
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "").replace("\\", "")
    inline = bool(INLINE_TYPES.match(mime_type.split(";")[0].strip().lower()))
    disposition = "inline" if inline else "attachment"
    response.headers["Content-Disposition"] = \
        f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
    response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cross-Origin-Resource-Policy"] = "same-site"


class _FixedOrigin:
    """WSGI middleware: the configured public URL is the request's scheme, host and prefix."""

    def __init__(self, app, base_url: str):
        parts = urlsplit(base_url.rstrip("/"))
        self.app, self.scheme, self.netloc = app, parts.scheme or "http", parts.netloc
        self.prefix = parts.path.rstrip("/")

    def __call__(self, environ, start_response):
        environ["wsgi.url_scheme"] = self.scheme
        environ["HTTP_HOST"] = self.netloc
        host, _, port = self.netloc.rpartition(":") if self.netloc.rsplit(":", 1)[-1].isdigit() \
            else (self.netloc, "", "")
        environ["SERVER_NAME"] = host
        environ["SERVER_PORT"] = port or ("443" if self.scheme == "https" else "80")
        if self.prefix:
            environ["SCRIPT_NAME"] = self.prefix
            path = environ.get("PATH_INFO", "")
            if path.startswith(self.prefix + "/") or path == self.prefix:
                environ["PATH_INFO"] = path[len(self.prefix):]
        return self.app(environ, start_response)


def redact(text: str) -> str:
    """``text`` with every ``token=…`` value replaced by ``[redacted]``."""
    return TOKEN_IN_TEXT.sub(r"\1[redacted]", text)


class RedactTokens(logging.Filter):
    """Logging filter: the formatted line with tokens redacted (query strings, referrers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def redact_token_logs() -> None:
    """Attach :class:`RedactTokens` (once) to the request loggers of werkzeug and gunicorn."""
    for name in ("werkzeug", "gunicorn.access", "gunicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
