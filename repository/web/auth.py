"""Bearer tokens to users, and role checks for the blueprints."""
from __future__ import annotations

import functools
from datetime import date
from typing import Callable

from flask import current_app, g, request

from repository.catalog.visibility import Reader
from repository.errors import Gone, PermissionDenied
from repository.access.rights import AuthenticationRequired, check_read_access

ROLES = ("archivist", "researcher", "auditor", "admin")
# Said with every 401: a token comes from an admin, on the server.
GET_A_TOKEN = ("an admin issues one with `kho user add NAME --role ROLE`, or a new one for an "
               "existing user with `kho user token NAME`")
TOKEN_COOKIE = "kho_token"  # [access room] set by the viewer, read for GET/HEAD only


def current_user():
    """The user whose token came with this request, or None (cached on ``g``)."""
    if "kho_user" not in g:
        g.kho_user = None
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        from_cookie = False
        # [access room] Browsers cannot send a Bearer header from an <img> or the viewer:
        # GET/HEAD also take ?token= and the HttpOnly cookie set by /view/<id>?token=.
        # Only safe methods, so a cookie can never authorise a change (no CSRF).
        if not token and request.method in ("GET", "HEAD"):
            token = request.args.get("token", "").strip()
            if not token:
                token, from_cookie = request.cookies.get(TOKEN_COOKIE, "").strip(), True
        if token:
            from repository.catalog import authenticate
            with current_app.extensions["kho"].catalog.session() as session:
                user = authenticate(session, token)
                if user is None:
                    if from_cookie:  # a stale cookie must not lock anyone out of public pages
                        return None
                    from repository.catalog.users import token_has_expired
                    what = "has expired" if token_has_expired(session, token) else "is not valid"
                    raise AuthenticationRequired(f"the token {what}: {GET_A_TOKEN}")
                session.expunge(user)
                g.kho_user = user
    return g.kho_user


def require_roles(*roles: str) -> Callable:
    """Decorator: 401 without a token, 403 when the user's role is not among ``roles``."""
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                raise AuthenticationRequired(
                    f"this needs a token, sent as Authorization: Bearer <token>; {GET_A_TOKEN}")
            if user.role not in roles and user.role != "admin":
                raise PermissionDenied(
                    f"the {user.role} role may not do this; it needs {' or '.join(roles)}")
            return view(*args, **kwargs)
        return wrapper
    return decorate


def current_reader() -> Reader:
    """This request's caller as listings see it: every listing filters with it in SQL."""
    return Reader.of(current_user(), today=date.today(),
                     public_read=current_app.extensions["kho"].settings.public_read)


def check_reader(aip) -> None:
    """410 if ``aip`` was withdrawn; 401 or 403 unless this request's caller may read it."""
    withdrawn = getattr(aip, "withdrawn_at", None)  # collections are checked here too
    if withdrawn is not None:
        raise Gone(f"{aip.identifier} was withdrawn on {withdrawn.date().isoformat()}: "
                   f"{aip.withdrawal_reason}", aip.withdrawal_reason or "")
    check_read_access(aip, current_user(), today=date.today(),
                      public_read=current_app.extensions["kho"].settings.public_read)
