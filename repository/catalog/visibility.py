"""Who may read what, as one SQL condition shared by every listing, count and facet.

The rules (``repository.access.rights`` applies the same ones to a single AIP):
- staff (archivist, admin, auditor) read everything: they check, describe and audit it;
- ``public``: anyone, or any account when ``KHO_PUBLIC_READ`` is off;
- ``restricted``: any account;
- ``embargoed`` until a date: staff only until then, public from that day on.
An AIP is readable when its own access and its collection's both allow it, and never once
it is withdrawn (it stays in storage and the catalogue; its pages answer 410).

Deciding this in the query (never by filtering a page afterwards) is what keeps totals,
page sizes and facet counts from revealing what a caller may not read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Callable

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from repository.catalog.models import Aip, Collection

PUBLIC, RESTRICTED, EMBARGOED = "public", "restricted", "embargoed"
ACCESS_LEVELS = (PUBLIC, RESTRICTED, EMBARGOED)
STAFF_ROLES = frozenset({"archivist", "admin", "auditor"})


@dataclass(frozen=True)
class Reader:
    """The caller of a listing: a role (None when anonymous), today's date, and the setting."""

    role: str | None
    today: date
    public_read: bool = True

    @classmethod
    def of(cls, user, *, today: date, public_read: bool = True) -> "Reader":
        """The reader for ``user`` (a catalogue User, or None for an anonymous caller)."""
        return cls(getattr(user, "role", None), today, public_read)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def signed_in(self) -> bool:
        return self.role is not None


# Withdrawn AIPs leave every listing and search, whoever asks.
NOT_WITHDRAWN = Aip.withdrawn_at.is_(None)


def _open_to(reader: Reader, access, embargo_until) -> ColumnElement[bool]:
    """Condition on an (access, embargo_until) pair of columns for ``reader``."""
    if reader.is_staff:
        return true()
    lapsed = and_(access == EMBARGOED, embargo_until.is_not(None), embargo_until <= reader.today)
    if reader.signed_in:  # any account reads restricted material, not an embargo in force
        return or_(access != EMBARGOED, lapsed)
    if not reader.public_read:
        return false()
    return or_(access == PUBLIC, lapsed)


def readable_collections(reader: Reader) -> ColumnElement[bool]:
    """Condition on Collection: the collections ``reader`` may see (and count) at all."""
    return _open_to(reader, Collection.access, Collection.embargo_until)


def readable_aips(reader: Reader) -> ColumnElement[bool]:
    """Condition on Aip: what ``reader`` may read, by the AIP's and its collection's access.

    Needs no join: the collection is checked by a subquery, so any query over Aip can add it.
    """
    return readable_by(reader, access=Aip.access, embargo_until=Aip.embargo_until,
                       collection_id=Aip.collection_id, not_withdrawn=NOT_WITHDRAWN)


def readable_by(reader: Reader, *, access, embargo_until, collection_id,
                not_withdrawn) -> ColumnElement[bool]:
    """``readable_aips``'s rule on columns that copy an AIP's (the search index keeps them
    on each document, so a search needs no join to aips)."""
    if reader.is_staff:
        return not_withdrawn
    open_collections = select(Collection.id).where(readable_collections(reader))
    return and_(not_withdrawn, _open_to(reader, access, embargo_until),
                collection_id.in_(open_collections))


def descriptions_public(today: date) -> ColumnElement[bool]:
    """Condition on Aip joined with its Collection: AIPs whose *description* anyone may see
    (OAI-PMH, the union catalogue): public and restricted ones, and embargoed ones once the
    embargo of the AIP and of its collection has ended (``today`` is a UTC date). Withdrawn
    ones are left to the caller: OAI-PMH shows them as deleted records."""
    def open_on(level, until):
        return or_(level != EMBARGOED, and_(until.is_not(None), until <= today))
    return and_(open_on(Aip.access, Aip.embargo_until),
                open_on(Collection.access, Collection.embargo_until))


_PROCESS = re.compile(r"\s*\(?\b[\w.-]+:\d+\b\)?")  # "host:pid" of a worker process


@dataclass(frozen=True)
class AgentWords:
    """How the public is told who acted, in one language (the web door passes its own)."""

    person: Callable[[str | None], str] = lambda role: (
        f"{'an' if role[0] in 'aeiou' else 'a'} {role}" if role else "a staff member")
    role: Callable[[str | None], str] = lambda role: role or "staff member"
    software_for: Callable[[str, str], str] = lambda software, person: f"{software} for {person}"


def agent_labeller(session, reader: Reader,
                   words: AgentWords = AgentWords()) -> Callable[[str], str]:
    """How ``reader`` sees the agents of events and versions.

    Staff see them as recorded. Everyone else sees roles, never staff user names, and
    Kho's own processes without the host and process id that ran them
    ("Kho 0.1.0 for lan" → "Kho 0.1.0 for an archivist"), said with ``words``.
    """
    if reader.is_staff:
        return lambda agent: agent
    from repository.catalog.models import User
    roles = dict(session.execute(select(User.name, User.role)).all())

    def label(agent: str) -> str:
        software, sep, user = (agent or "").partition(" for ")
        if software.lower().startswith("kho"):
            software = _PROCESS.sub("", software).strip()
            return words.software_for(software, words.person(roles.get(user.strip()))) \
                if sep else software
        return words.role(roles.get(agent.strip())) if agent else ""
    return label
