"""Users, their roles, their API tokens (only a SHA-256 of each token is kept) and their
web passwords (only a salted scrypt hash, werkzeug's default, is kept)."""
from __future__ import annotations

import functools
import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from repository.catalog.models import User
from repository.errors import NotFound, UsageError

ROLES: tuple[str, ...] = ("archivist", "researcher", "auditor", "admin")
TOKEN_PREFIX = "kho_"  # lets secret scanners and people recognise a Kho token
MIN_PASSWORD_LENGTH = 10


def generate_password_hash(password: str) -> str:
    # werkzeug is imported on use: every command opens the catalogue, few sign anyone in.
    from werkzeug.security import generate_password_hash as hash_password
    return hash_password(password)


def check_password_hash(stored: str, password: str) -> bool:
    from werkzeug.security import check_password_hash as check
    return check(stored, password)


@functools.cache
def _dummy_hash() -> str:
    """Hashed once, on the first sign-in, so one with an unknown name costs as much as one
    with a wrong password (the time taken must not tell which names exist).  Not at import:
    scrypt costs ~0.3 s of CPU, which every `kho ingest`, `fixity run` and worker paid."""
    return generate_password_hash("kho-no-such-user")


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


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise UsageError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def add_user(session: Session, name: str, role: str, password: str | None = None,
             expires_at: datetime | None = None) -> tuple[User, str]:
    """Create a user; returns the user and its token, which is not stored and not shown again."""
    name = _name(name)
    _check_role(role)
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise UsageError(f"a user named {name!r} already exists")
    token = new_token()
    user = User(name=name, role=role, token_hash=hash_token(token), token_expires_at=expires_at)
    if password is not None:
        user.password_hash = _password_hash(password)
    session.add(user)
    session.flush()
    return user, token


def _password_hash(password: str) -> str:
    # NFC, so a password typed with a different Vietnamese keyboard (NFD) still matches.
    password = unicodedata.normalize("NFC", password)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsageError(f"password: at least {MIN_PASSWORD_LENGTH} characters, please")
    return generate_password_hash(password)


def set_password(session: Session, name: str, password: str) -> User:
    """Give a user a new password; their open browser sessions end and any lock-out lifts."""
    user = get_user(session, name)
    user.password_hash = _password_hash(password)
    user.failed_sign_ins = 0
    user.locked_until = None
    user.session_version += 1
    session.flush()
    return user


def set_role(session: Session, name: str, role: str) -> User:
    user = get_user(session, name)
    user.role = _check_role(role)
    user.session_version += 1
    session.flush()
    return user


def set_active(session: Session, name: str, active: bool) -> User:
    """Disable (or enable again) a user: a disabled one can neither sign in nor use a token."""
    user = get_user(session, name)
    user.active = active
    user.session_version += 1
    session.flush()
    return user


def revoke_credentials(session: Session, name: str) -> User:
    """End every browser session of a user and replace their API token with one nobody has."""
    user = get_user(session, name)
    user.token_hash = hash_token(new_token())
    user.session_version += 1
    session.flush()
    return user


@dataclass(frozen=True)
class SignIn:
    """The outcome of a password sign-in: the user, or why not (``locked_until`` when locked)."""

    user: User | None
    locked_until: datetime | None = None


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite gives back naive datetimes for timezone-aware columns; they were stored in UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


def sign_in(session: Session, name: str, password: str, *, max_failures: int,
            lock_seconds: int, now: datetime | None = None) -> SignIn:
    """Check a name and password; after ``max_failures`` wrong ones the account is locked
    for ``lock_seconds`` (even the right password is refused meanwhile)."""
    now = now or datetime.now(timezone.utc)
    user = session.scalar(select(User).where(
        User.name == unicodedata.normalize("NFC", name.strip())))
    password = unicodedata.normalize("NFC", password)
    if user is None or not user.active or not user.password_hash:
        check_password_hash(_dummy_hash(), password)
        return SignIn(None)
    locked = _aware(user.locked_until)
    if locked is not None and locked > now:
        return SignIn(None, locked)
    if not check_password_hash(user.password_hash, password):
        user.failed_sign_ins += 1
        if user.failed_sign_ins >= max_failures:
            user.locked_until = now + timedelta(seconds=lock_seconds)
            user.failed_sign_ins = 0
        session.flush()
        return SignIn(None, _aware(user.locked_until) if user.locked_until
                      and _aware(user.locked_until) > now else None)
    user.failed_sign_ins = 0
    user.locked_until = None
    user.last_sign_in = now
    session.flush()
    return SignIn(user)


def session_user(session: Session, user_id: int, version: int) -> User | None:
    """The active user a browser session names, if that session has not been ended."""
    user = session.get(User, user_id)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


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
