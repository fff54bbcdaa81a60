"""Users, their roles and their API tokens (only a SHA-256 of each token is kept)."""
from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import datetime, timedelta, timezone

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from repository.catalog.models import User
from repository.errors import NotFound, UsageError

ROLES: tuple[str, ...] = ("archivist", "researcher", "auditor", "admin")
TOKEN_PREFIX = "kho_"  # lets secret scanners and people recognise a Kho token


def hash_token(token: str) -> str:
    """The stored form of a token: a SHA-256 hex digest (tokens are random, so no salt)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _name(name: str) -> str:
    name = unicodedata.normalize("NFC", name.strip())
    if not name:
        raise UsageError("a user needs a name")
    return name


def token_expiry(days: int, now: datetime | None = None) -> datetime | None:
    """When a token issued now expires under KHO_TOKEN_DAYS (``days``); None: never."""
    if days <= 0:
        return None
    return (now or datetime.now(timezone.utc)) + timedelta(days=days)


def add_user(session: Session, name: str, role: str,
             expires_at: datetime | None = None) -> tuple[User, str]:
    """Create a user; returns the user and its token, which is not stored and not shown again."""
    name = _name(name)
    if role not in ROLES:
        raise UsageError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise UsageError(f"a user named {name!r} already exists")
    token = new_token()
    user = User(name=name, role=role, token_hash=hash_token(token), token_expires_at=expires_at)
    session.add(user)
    session.flush()
    return user, token


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == _name(name)))
    if user is None:
        raise NotFound(f"no user named {name!r}")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def remove_user(session: Session, name: str) -> None:
    """Delete a user; their token stops working at once. Their past events keep their name."""
    session.delete(get_user(session, name))
    session.flush()


def reset_token(session: Session, name: str, expires_at: datetime | None = None) -> str:
    """Give a user a new token (the old one stops working at once) and return it."""
    user = get_user(session, name)
    token = new_token()
    user.token_hash = hash_token(token)
    user.token_expires_at = expires_at
    session.flush()
    return token


def authenticate(session: Session, token: str | None) -> User | None:
    """The active user holding ``token``, or None. Never log the token itself."""
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    now = datetime.now(timezone.utc)
    return session.scalar(select(User).where(
        User.token_hash == hash_token(token), User.active.is_(True),
        or_(User.token_expires_at.is_(None), User.token_expires_at > now)))


def token_has_expired(session: Session, token: str | None) -> bool:
    """Whether ``token`` was a user's token that has expired (to say so, not just "invalid")."""
    if not token or not token.startswith(TOKEN_PREFIX):
        return False
    return session.scalar(select(User.id).where(
        User.token_hash == hash_token(token),
        User.token_expires_at <= datetime.now(timezone.utc))) is not None
