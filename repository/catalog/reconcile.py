"""Objects in storage that the catalogue does not know: found, and registered on request.

An ingest killed after its object's root inventory was written but before the catalogue
committed leaves a complete, valid OCFL object with no catalogue row. It is not garbage
(`kho storage gc` must not remove it) and not lost: `kho storage gc` lists it, and with
``--register`` catalogues it from storage exactly as `kho catalog rebuild` would.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from repository.catalog.chain_store import record_chain_head
from repository.catalog.events import record_event
from repository.catalog.models import Aip, PremisEvent
from repository.config import Settings
from repository.storage import OcflStore, Storage


def uncatalogued_objects(catalog, location: str, storage: Storage) -> list[str]:
    """OCFL ids of the complete objects in ``storage`` that have no catalogue row."""
    with catalog.session() as session:
        known = set(session.scalars(select(Aip.ocfl_id).where(Aip.location == location)))
    return [object_id for object_id in OcflStore(storage).list_objects() if object_id not in known]


def register_object(settings: Settings, catalog, location: str, storage: Storage,
                    object_id: str) -> str:
    """Catalogue one object from storage (rows, Dublin Core, events); its AIP identifier."""
    from repository.catalog.collection_records import merge_records, read_records
    from repository.catalog.rebuild import _restore_aip
    recorded = merge_records(read_records(storage))
    events = _restore_aip(catalog, OcflStore(storage), location, object_id, recorded)
    with catalog.session() as session:
        held = set(session.scalars(select(PremisEvent.identifier).where(
            PremisEvent.identifier.in_([e["identifier"] for e in events]))))
        for event in sorted(events, key=lambda e: (e["datetime"], e["identifier"])):
            if event["identifier"] in held:
                continue
            record_event(session, event_type=event["type"], agent=event["agent"],
                         outcome=event["outcome"], detail=event.get("detail", ""),
                         aip_identifier=event["aip"], file_path=event.get("file"),
                         when=datetime.fromisoformat(event["datetime"]),
                         identifier=event["identifier"])
        identifier = session.scalar(select(Aip.identifier).where(Aip.ocfl_id == object_id))
    record_chain_head(catalog, [storage])
    return identifier
