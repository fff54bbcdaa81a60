"""Who may read an AIP: public, restricted (any account), or embargoed until a date."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

# The rules live below every room, beside the SQL condition that listings use.
from repository.catalog.visibility import EMBARGOED, PUBLIC, RESTRICTED, STAFF_ROLES
from repository.errors import PermissionDenied, UsageError

__all__ = ["EMBARGOED", "PUBLIC", "RESTRICTED", "STAFF_ROLES", "AccessPolicy", "parse_access",
           "AuthenticationRequired", "effective_policy", "check_read_access", "aip_embargo_end"]
_EMBARGO = re.compile(r"^embargoed:(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class AccessPolicy:
    """An access setting as stored: the level and, for an embargo, its end date."""

    level: str
    embargo_until: date | None = None

    def __str__(self) -> str:
        if self.level == EMBARGOED and self.embargo_until:
            return f"{EMBARGOED}:{self.embargo_until.isoformat()}"
        return self.level


def parse_access(text: str) -> AccessPolicy:
    """Read `public`, `restricted` or `embargoed:YYYY-MM-DD`."""
    text = (text or "").strip()
    if text in (PUBLIC, RESTRICTED):
        return AccessPolicy(text)
    match = _EMBARGO.match(text)
    if match:
        try:
            return AccessPolicy(EMBARGOED, date.fromisoformat(match.group(1)))
        except ValueError:
            pass
    raise UsageError(f"access must be public, restricted or embargoed:YYYY-MM-DD, not {text!r}")


class AuthenticationRequired(PermissionDenied):
    """Nobody is signed in and the resource is not public (HTTP 401)."""


def effective_policy(aip, today: date) -> str:
    """The strictest of the AIP's and its collection's access, with lapsed embargoes public."""
    levels = [(aip.access, aip.embargo_until)]
    collection = getattr(aip, "collection", None)
    if collection is not None:
        levels.append((collection.access, collection.embargo_until))
    result = PUBLIC
    for level, until in levels:
        if level == EMBARGOED and until is not None and until <= today:
            level = PUBLIC  # an embargo that has ended opens the item
        if level == EMBARGOED:
            return EMBARGOED
        if level == RESTRICTED:
            result = RESTRICTED
    return result


def check_read_access(aip, user, *, today: date, public_read: bool = True) -> None:
    """Raise AuthenticationRequired (401) or PermissionDenied (403) unless ``user`` may read ``aip``."""
    policy = effective_policy(aip, today)
    role = getattr(user, "role", None)
    if role in STAFF_ROLES:
        return
    if policy == PUBLIC:
        if public_read or user is not None:
            return
        raise AuthenticationRequired("sign in to read this repository")
    if user is None:
        raise AuthenticationRequired(f"{aip.identifier} is {policy}: a token is needed")
    if policy == RESTRICTED:
        return  # any account may read restricted material
    raise PermissionDenied(f"{aip.identifier} is under embargo until {aip_embargo_end(aip)}")


def aip_embargo_end(aip) -> str:
    ends = [d for d in (aip.embargo_until, getattr(aip.collection, "embargo_until", None)) if d]
    return max(ends).isoformat() if ends else "further notice"
