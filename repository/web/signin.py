"""Signing in to the web pages: password forms, a signed session cookie, CSRF on every form.

The session is Flask's signed cookie (``HttpOnly``, ``SameSite=Lax``, ``Secure`` whenever the
request came over https) holding the user's id and session version; bumping the version
(new password, disabled account, revoked credentials) ends every session at once. Scripts
keep using ``Authorization: Bearer`` tokens, which need no CSRF token since no browser sends
that header by itself; every other POST/PUT/PATCH/DELETE must carry the form's CSRF token
(field ``csrf_token`` or header ``X-CSRFToken``). Tokens in page URLs (``?token=``) are gone.
"""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import (Blueprint, Flask, current_app, flash, has_request_context, redirect,
                   render_template, request, session, url_for)
from flask.sessions import SecureCookieSessionInterface
from flask_babel import format_datetime, gettext as _
from flask_wtf.csrf import CSRFProtect

from repository.web.i18n import LANGUAGE_COOKIE, LANGUAGES

blueprint = Blueprint("signin", __name__, template_folder="templates")
SESSION_COOKIE = "kho_session"
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
csrf = CSRFProtect()


class KhoSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, marked ``Secure`` whenever the request was https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]
                    or (has_request_context() and request.is_secure))


def _secret_key(settings) -> str:
    """KHO_SECRET_KEY, else a random key kept (mode 600) in the data folder across restarts."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text("ascii").strip()
    with os.fdopen(fd, "w") as out:
        key = secrets.token_hex(32)
        out.write(key)
    return key


def init_app(app: Flask) -> None:
    settings = app.extensions["kho"].settings
    from repository.catalog.users import _dummy_hash
    if not _dummy_hash.cache_info().currsize:
        # Made beside start-up, once per process: the first sign-in with an unknown name must
        # not take longer than one with a wrong password.
        import threading
        threading.Thread(target=_dummy_hash, name="kho-dummy-hash", daemon=True).start()
    app.secret_key = _secret_key(settings)
    app.session_interface = KhoSessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE, SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        # Checked in _protect below, so Bearer-token requests (scripts) are not asked for one.
        WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=None)
    csrf.init_app(app)
    app.context_processor(lambda: {"signed_in_user": _template_user, "role_name": role_name})

    @app.before_request
    def _protect():
        if request.method not in UNSAFE_METHODS or _bearer_request():
            return
        from repository.web import JSON_PREFIXES
        # An API call with neither a token nor a session acts as nobody: it gets its 401
        # from the endpoint. Forms, and anything a signed-in browser sends, need the token.
        if request.path.startswith(JSON_PREFIXES) and signed_in_user_id() is None:
            return
        csrf.protect()


def role_name(role: str) -> str:
    return {"archivist": _("archivist"), "researcher": _("researcher"),
            "auditor": _("auditor"), "admin": _("administrator")}.get(role, role)


def _template_user():
    """The signed-in user for the header; an error page must render even with a bad token."""
    from repository.web.auth import current_user
    try:
        return current_user()
    except Exception:  # noqa: BLE001 - the header shows "Sign in" instead
        return None


def _bearer_request() -> bool:
    return request.headers.get("Authorization", "").lower().startswith("bearer ")


def safe_next(target: str | None) -> str:
    """Only a path on this site may follow sign-in (no open redirect)."""
    target = (target or "").strip()
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc \
            or "\\" in target:
        return url_for("pages.home")
    return target


@blueprint.route("/signin", methods=["GET", "POST"])
def signin():
    from repository.catalog import sign_in
    services = current_app.extensions["kho"]
    next_url = safe_next(request.values.get("next"))
    error, name = None, ""
    if request.method == "POST":
        name = request.form.get("name", "")
        with services.catalog.session() as db:
            outcome = sign_in(db, name, request.form.get("password", ""),
                              max_failures=services.settings.sign_in_max_failures,
                              lock_seconds=services.settings.sign_in_lock_seconds)
            if outcome.user is not None:
                session.clear()
                session.permanent = True
                session["uid"], session["ver"] = outcome.user.id, outcome.user.session_version
                return redirect(next_url, code=303)
        if outcome.locked_until:
            error = _("Too many failed attempts: this account is locked until %(time)s.",
                      time=format_datetime(outcome.locked_until, "short"))
        else:
            error = _("The user name or password is not right.")
    status = 401 if error else 200
    return render_template("signin/signin.html", next_url=next_url, error=error,
                           name=name), status


@blueprint.post("/signout")
def signout():
    session.clear()
    flash(_("You are signed out."))
    return redirect(url_for("pages.home"), code=303)


@blueprint.get("/language/<code>")
def language(code: str):
    """Remember the reader's language for a year and go back to the page they were on."""
    response = redirect(safe_next(request.args.get("next")), code=303)
    if code in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, code, max_age=365 * 86400, httponly=True,
                            samesite="Lax", secure=request.is_secure)
    return response


def signed_in_user_id() -> tuple[int, int] | None:
    """(user id, session version) of this browser's session, if signed in."""
    if "uid" in session and "ver" in session:
        return int(session["uid"]), int(session["ver"])
    return None
