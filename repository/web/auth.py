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


def current_user():
    """The user of this request, or None (cached on ``g``): an ``Authorization: Bearer``
    token (scripts) or the browser's signed session (web/signin.py). Tokens in URLs are
    not read: they end up in server logs and browser histories."""
    if "kho_user" not in g:
        g.kho_user = None
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        from repository.catalog import authenticate, session_user
        from repository.web.signin import signed_in_user_id
        with current_app.extensions["kho"].catalog.session() as session:
            if token:
                user = authenticate(session, token)
                if user is None:
                    from repository.catalog.users import token_has_expired
                    what = "has expired" if token_has_expired(session, token) else "is not valid"
                    raise AuthenticationRequired(f"the token {what}: {GET_A_TOKEN}")
            else:
                signed_in = signed_in_user_id()
                # An ended session (new password, disabled, revoked) is just signed out.
                user = session_user(session, *signed_in) if signed_in else None
            if user is not None:
                session.expunge(user)
            g.kho_user = user
    return g.kho_user


def require_roles(*roles: str) -> Callable:
    """Decorator: 401 when nobody is signed in, 403 when the user's role is not among ``roles``."""
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                raise AuthenticationRequired(
                    "this needs you to sign in (or, for scripts, Authorization: Bearer "
                    f"<token>; {GET_A_TOKEN})")
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
