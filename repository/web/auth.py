"""Bearer tokens to users, and role checks for the blueprints."""
from __future__ import annotations

import functools
from datetime import date
from typing import Callable

from flask import current_app, g, request

from repository.errors import Gone, PermissionDenied
from repository.access.rights import AuthenticationRequired, check_read_access

ROLES = ("archivist", "researcher", "auditor", "admin")
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
                    raise AuthenticationRequired("the token is not valid")
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
                raise AuthenticationRequired("this needs a token: send Authorization: Bearer <token>")
            if user.role not in roles and user.role != "admin":
                raise PermissionDenied(
                    f"the {user.role} role may not do this; it needs {' or '.join(roles)}")
            return view(*args, **kwargs)
        return wrapper
    return decorate


def check_reader(aip) -> None:
    """410 if ``aip`` was withdrawn; 401 or 403 unless this request's caller may read it."""
    withdrawn = getattr(aip, "withdrawn_at", None)  # collections are checked here too
    if withdrawn is not None:
        raise Gone(f"{aip.identifier} was withdrawn on {withdrawn.date().isoformat()}: "
                   f"{aip.withdrawal_reason}", aip.withdrawal_reason or "")
    check_read_access(aip, current_user(), today=date.today(),
                      public_read=current_app.extensions["kho"].settings.public_read)


def may_read(aip) -> bool:
    """Whether this request's caller may read ``aip`` (for listings that leave items out)."""
    try:
        check_reader(aip)
    except (PermissionDenied, Gone):
        return False
    return True
