"""Changing who may read a whole collection: the catalogue row, an event, and storage.

The change is written to storage first (a collection record in every location, see
collection_records.py) and committed to the catalogue only if that worked; the event
chain's head goes to storage after the commit, as after every event-writing action.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

from repository.catalog.chain_store import record_chain_head
from repository.catalog.collection_records import store_collection
from repository.catalog.events import record_event
from repository.catalog.queries import get_collection
from repository.config import Settings
from repository.storage import load_locations


def access_text(level: str, embargo_until: date | None) -> str:
    return f"embargoed:{embargo_until.isoformat()}" if level == "embargoed" and embargo_until \
        else level


def change_collection_access(settings: Settings, catalog, name: str, *, level: str,
                             embargo_until: date | None, agent: str) -> dict:
    """Set the collection's access; returns its name, title and new access."""
    storages = list(load_locations(settings).values())
    with catalog.session() as session:
        found = get_collection(session, name)
        before = access_text(found.access, found.embargo_until)
        found.access, found.embargo_until = level, embargo_until
        # Read by datestamps.py when it re-stamps the collection's AIPs: one moment for both.
        found.access_changed_at = datetime.now(timezone.utc)
        after = access_text(level, embargo_until)
        event = record_event(session, event_type="policy assignment", agent=agent,
                             outcome="success", when=found.access_changed_at,
                             detail=f"access of collection {found.name} changed from {before} "
                                    f"to {after}")
        store_collection(found, storages, [event])  # raises, and rolls back, if it cannot
        result = {"name": found.name, "title": found.title, "access": after}
    record_chain_head(catalog, storages)
    return result
