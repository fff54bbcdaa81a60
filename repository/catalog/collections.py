"""Collections are made on purpose: add, rename (title), change who may read one, delete an
empty one, and look one up by name, refusing an unknown name with the closest existing names suggested.

A typo in a collection name must never create a second collection silently ("Dia ba" for
"Địa bạ"), so ingest and deposits go through :func:`require_collection`.
"""
from __future__ import annotations

import difflib
import unicodedata

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from repository.catalog.database import claim_writer
from repository.catalog.models import Aip, Collection
from repository.errors import Conflict, NotFound, UsageError
from repository.metadata.text import fold_for_search

NAME_MAX = 200  # the column's width
TITLE_MAX = 1000  # the title column's width (PostgreSQL refuses longer; SQLite would not)


class CollectionExists(Conflict):
    """A collection with this name is already there."""

    def __init__(self, name: str):
        super().__init__(f"a collection named {name!r} already exists")
        self.name = name


class CollectionNotEmpty(Conflict):
    """Only an empty collection may be deleted; ``held`` AIPs are still in this one."""

    def __init__(self, name: str, held: int):
        super().__init__(f"collection {name!r} holds {held} AIP(s); only an empty "
                         "collection can be deleted")
        self.name, self.held = name, held


class UnknownCollection(NotFound):
    """No collection has this name; ``suggestions`` are the closest existing names."""

    def __init__(self, name: str, suggestions: list[str]):
        hint = (f"; did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions
                else "")
        super().__init__(f"no collection named {name!r}{hint} "
                         f"(an admin creates one with: kho collection add {_shell(name)})")
        self.name, self.suggestions, self.hint = name, suggestions, hint

    def http_message(self) -> str:
        return (f"no collection named {self.name!r}{self.hint} (an admin creates one with "
                "POST /api/v1/collections)")


def _shell(name: str) -> str:
    return f'"{name}"' if any(c.isspace() for c in name) else name


def collection_name(name: str) -> str:
    """A collection name as stored: NFC, outer spaces removed; refused when empty or too long."""
    name = unicodedata.normalize("NFC", str(name or "").strip())
    if not name:
        raise UsageError("a collection needs a name")
    if len(name) > NAME_MAX or any(unicodedata.category(c) == "Cc" for c in name):
        raise UsageError(f"a collection name is at most {NAME_MAX} characters, "
                         "without control characters")
    return name


def collection_title(title: str) -> str:
    """A collection title as stored: NFC, outer spaces removed, at most TITLE_MAX characters."""
    title = unicodedata.normalize("NFC", title.strip())
    if len(title) > TITLE_MAX:
        raise UsageError(f"a collection's title is at most {TITLE_MAX} characters")
    return title


def suggest_collections(session: Session, name: str, limit: int = 3) -> list[str]:
    """Existing names closest to ``name``, compared without diacritics or case."""
    names = list(session.scalars(select(Collection.name)))
    folded = {}
    for existing in names:
        folded.setdefault(fold_for_search(existing), existing)
    wanted = fold_for_search(name)
    exact = [folded[wanted]] if wanted in folded else []
    close = difflib.get_close_matches(wanted, list(folded), n=limit, cutoff=0.6)
    found = exact + [folded[c] for c in close if folded[c] not in exact]
    return found[:limit]


def require_collection(session: Session, name: str) -> Collection:
    """The collection called ``name``; UnknownCollection (with suggestions) if there is none."""
    name = collection_name(name)
    found = session.scalar(select(Collection).where(Collection.name == name))
    if found is None:
        raise UnknownCollection(name, suggest_collections(session, name))
    return found


def add_collection(session: Session, name: str, *, title: str = "", description: str = "",
                   access: str = "public") -> Collection:
    """Create a collection; UsageError if one with that name exists (also when two callers
    race: the database's unique name decides, inside a savepoint)."""
    from repository.access.rights import parse_access
    name = collection_name(name)
    policy = parse_access(access)
    claim_writer(session)  # before the name and set-spec checks read, so racers queue
    if session.scalar(select(Collection.id).where(Collection.name == name)) is not None:
        raise CollectionExists(name)
    collection = Collection(name=name, title=collection_title(title) or name,
                            description=unicodedata.normalize("NFC", description.strip()),
                            access=policy.level, embargo_until=policy.embargo_until)
    try:
        with session.begin_nested():
            session.add(collection)
    except IntegrityError:
        raise CollectionExists(name) from None
    return collection


def rename_collection(session: Session, name: str, *, title: str | None = None,
                      description: str | None = None) -> Collection:
    """Change a collection's title (and description); its name, used in URLs and in each
    AIP's stored description, stays."""
    found = require_collection(session, name)
    if title is not None:
        if not title.strip():
            raise UsageError("a collection's title cannot be empty")
        found.title = collection_title(title)
    if description is not None:
        found.description = unicodedata.normalize("NFC", description.strip())
    session.flush()
    return found


def delete_collection(session: Session, name: str) -> None:
    """Delete an empty collection; one that holds AIPs is refused."""
    found = require_collection(session, name)
    held = session.scalar(select(func.count(Aip.id)).where(Aip.collection_id == found.id)) or 0
    if held:
        raise CollectionNotEmpty(found.name, held)
    session.delete(found)
    session.flush()
