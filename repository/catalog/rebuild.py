"""Rebuild the catalogue from storage alone: storage is the source of truth.

Each OCFL object's inventory gives versions, files and digests; Kho's own files inside it
(kho-metadata/…) give the identifier, collection, access, Dublin Core, formats and the
PREMIS events of every version. Each location's collection records (collection_records.py)
give every collection's title and access and the events that changed them; a collection
with no record is restored closed (restricted), never public. The event journal
(chain_store.py) gives the whole event log in chain order, so the rebuilt log hashes to
the head recorded in storage; events found in objects or records but not journaled (a
crash between commit and journal, or storage written before journals existed) follow it in
time order. Users are not in storage and are left as they are.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import func, select, true

from repository.catalog.aip_rows import AipRows, VersionRows, write_aip
from repository.catalog.chain_store import read_chain_head, read_journal, record_chain_head
from repository.catalog.collection_records import merge_records, read_records
from repository.catalog.events import record_event
from repository.catalog.models import (Aip, AipCopy, AipFile, AipVersion, DublinCoreRecord,
                                       PremisEvent)
from repository.catalog.queries import get_or_create_collection
from repository.config import Settings
from repository.errors import CatalogError, KhoError
from repository.storage import OcflStore, load_locations
from repository.storage.aip_layout import (AIP_FILE, DUBLIN_CORE_FILE, EVENTS_FILE,
                                           FORMATS_FILE, AipDescription)


@dataclass
class RebuildReport:
    """What a rebuild found: AIPs restored, events replayed, objects it could not read."""

    aips: int = 0
    events: int = 0
    collections: int = 0
    problems: list[str] = field(default_factory=list)
    # Collections with no record in storage: closed (restricted), never guessed public.
    closed: list[str] = field(default_factory=list)
    # Events restored from the journal in storage (the rest were replayed by time).
    journaled: int = 0
    diverged: str = ""


def rebuild_catalog(settings: Settings, catalog, *, force: bool = False) -> RebuildReport:
    """Fill an empty catalogue from every OCFL object in every storage location."""
    with catalog.session() as session:
        held = session.scalar(select(func.count()).select_from(Aip))
        if held and not force:
            raise CatalogError(f"the catalogue already holds {held} AIPs; rebuild fills an "
                               "empty one (give --force to clear AIPs and events first)")
        if held:
            _clear(session)
    report = RebuildReport()
    pending_events: list[dict[str, Any]] = []
    locations = load_locations(settings)
    records: list[dict] = []
    for name, storage in locations.items():
        try:
            records.extend(read_records(storage))
        except KhoError as exc:
            report.problems.append(f"{name}: cannot read collection records: {exc}")
    recorded = merge_records(records)
    # Before any AIP: a collection is never open, even for a moment, unless its record says so.
    pending_events.extend(_restore_collections(catalog, recorded, report))
    restored: dict[str, str] = {}  # OCFL id -> the location its AIP was restored from
    for name, storage in locations.items():
        store = OcflStore(storage)
        try:
            object_ids = list(store.list_objects())
        except KhoError as exc:
            report.problems.append(f"{name}: cannot list objects: {exc}")
            continue
        for object_id in object_ids:
            if object_id in restored:  # a replica: one AIP, one more copy
                _record_found_copies(catalog, object_id, [restored[object_id], name], store)
                continue
            try:
                events = _restore_aip(catalog, store, name, object_id, recorded)
            except (KhoError, KeyError, ValueError) as exc:
                report.problems.append(f"{name}: {object_id}: {exc}")
                continue
            report.aips += 1
            restored[object_id] = name
            pending_events.extend(events)
    _close_unrecorded(catalog, recorded, report)
    _stamp_collection_changes(catalog, recorded)
    journal = _longest_journal(locations, report)
    journaled = {e["identifier"] for e in journal}
    # Events no journal holds are replayed after it in time order across AIPs, so the
    # new part of the chain reads as the history did.
    pending_events = sorted((e for e in pending_events if e["identifier"] not in journaled),
                            key=lambda e: (e["datetime"], e["identifier"]))
    with catalog.session() as session:
        for event in journal:
            replayed = _replay(session, event)
            if replayed.digest != event["digest"] and not report.diverged:
                report.diverged = event["identifier"]
                report.problems.append(
                    f"event {event['identifier']} (chain position {event['position']}) does "
                    "not hash as journaled; the rebuilt chain differs from storage's from there")
            report.events += 1
        for event in pending_events:
            _replay(session, event)
            report.events += 1
    report.journaled = len(journal)
    record_chain_head(catalog, locations.values())  # the rebuilt log's head, for kho audit
    return report


def _replay(session, event: dict) -> PremisEvent:
    return record_event(session, event_type=event["type"], agent=event["agent"],
                        outcome=event["outcome"], detail=event.get("detail", ""),
                        aip_identifier=event["aip"], file_path=event.get("file"),
                        when=datetime.fromisoformat(event["datetime"]),
                        identifier=event["identifier"])


def _longest_journal(locations: dict, report: RebuildReport) -> list[dict]:
    """The event journal of the location whose recorded head covers the most events."""
    heads = []
    for name, storage in locations.items():
        try:
            head = read_chain_head(storage)
        except KhoError as exc:
            report.problems.append(f"{name}: cannot read the event-chain head: {exc}")
            continue
        if head:
            heads.append((int(head.get("events", 0)), name, storage))
    for _, name, storage in sorted(heads, key=lambda h: -h[0]):
        try:
            journal = read_journal(storage)
        except KhoError as exc:
            report.problems.append(f"{name}: cannot read the event journal: {exc}")
            continue
        if journal is not None:
            return journal
    return []


def _restore_collections(catalog, records: dict[str, dict], report: RebuildReport) -> list[dict]:
    """Give every recorded collection the title, access and embargo its record holds;
    returns the records' events."""
    events: list[dict] = []
    with catalog.session() as session:
        for name, record in records.items():
            collection = get_or_create_collection(session, name)
            collection.title = record.get("title") or name
            collection.description = record.get("description") or ""
            collection.access = record["access"]
            until = record.get("embargo_until")
            collection.embargo_until = date.fromisoformat(until) if until else None
            events.extend({**event, "aip": None} for event in record.get("events", []))
            report.collections += 1
    return events


def _stamp_collection_changes(catalog, records: dict[str, dict]) -> None:
    """An access change of a collection changed each of its AIPs for a harvester
    (datestamps.py): give them that datestamp again, from the change's event."""
    from repository.catalog.datestamps import embargo_lifts_at, harvest_datestamp
    from repository.catalog.models import Collection
    with catalog.session() as session:
        for name, record in records.items():
            changes = [e["datetime"] for e in record.get("events", [])
                       if e.get("type") == "policy assignment"]
            if not changes:
                continue
            changed = datetime.fromisoformat(max(changes))
            collection = session.scalar(select(Collection).where(Collection.name == name))
            lift = embargo_lifts_at(collection.access, collection.embargo_until)
            for aip in session.scalars(select(Aip).where(Aip.collection_id == collection.id)):
                stamp = harvest_datestamp(changed, embargo_lifts_at(aip.access, aip.embargo_until),
                                          lift)
                if stamp > _as_utc(aip.oai_datestamp):
                    session.execute(Aip.__table__.update().where(Aip.id == aip.id)
                                    .values(oai_datestamp=stamp))


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _close_unrecorded(catalog, records: dict[str, dict], report: RebuildReport) -> None:
    from repository.catalog.models import Collection
    with catalog.session() as session:
        for collection in session.scalars(select(Collection).where(
                Collection.name.not_in(list(records)) if records else true())):
            collection.access, collection.embargo_until = "restricted", None
            report.closed.append(collection.name)


def _clear(session) -> None:
    for model in (AipCopy, AipFile, AipVersion, DublinCoreRecord, PremisEvent, Aip):
        session.execute(model.__table__.delete())


def _read_json(store: OcflStore, object_id: str, logical_path: str, version: str) -> Any:
    with store.open_file(object_id, logical_path, version) as stream:
        return json.loads(stream.read().decode("utf-8"))


def _restore_aip(catalog, store: OcflStore, location: str, object_id: str,
                 recorded: dict[str, dict]) -> list[dict]:
    inventory = store.inventory(object_id)
    head = inventory.head
    description = AipDescription.from_dict(_read_json(store, object_id, AIP_FILE, head))
    record = _read_json(store, object_id, DUBLIN_CORE_FILE, head)
    root = store.object_root(object_id)
    sizes = {info.key[len(root) + 1:]: info.size for info in store.storage.list_info(f"{root}/")}
    events: list[dict] = []
    versions: list[VersionRows] = []
    for version in sorted(inventory.versions, key=lambda v: int(v[1:])):
        info = inventory.versions[version]
        versions.append(VersionRows(
            number=int(version[1:]), message=info.get("message", ""),
            agent=info.get("user", {}).get("name", ""), created_at=_parse_time(info["created"]),
            formats=_read_json(store, object_id, FORMATS_FILE, version),
            sizes={path: sizes[inventory.manifest[sha512][0]]
                   for path, sha512 in inventory.state(version).items()}))
        for event in _read_json(store, object_id, EVENTS_FILE, version):
            events.append({**event, "aip": description.identifier})
    with catalog.session() as session:
        collection = get_or_create_collection(session, description.collection)
        if collection.name not in recorded:  # no record says who may read it: closed
            collection.access, collection.embargo_until = "restricted", None
        # The record last changed in the newest version whose dublin_core.json differs.
        numbers = sorted(inventory.versions, key=lambda v: int(v[1:]))
        described = next(v for v in reversed(numbers) if v == numbers[0] or
                         inventory.state(v).get(DUBLIN_CORE_FILE)
                         != inventory.state(f"v{int(v[1:]) - 1}").get(DUBLIN_CORE_FILE))
        write_aip(session, AipRows(description=description, inventory=inventory,
                                   location=location, object_root=root, versions=versions,
                                   dublin_core=record, described_at=inventory.created(described)))
    return events


def _record_found_copies(catalog, object_id: str, names: list[str], store: OcflStore) -> None:
    """An object found in several locations is one AIP with several copies: each is
    recorded as pending (unproven) until its next fixity check or `kho replicate`."""
    from repository.catalog.copies import set_copy
    head = store.inventory(object_id).head
    with catalog.session() as session:
        aip = session.scalar(select(Aip).where(Aip.ocfl_id == object_id))
        for name in names:
            set_copy(session, aip, name, "pending", version=int(head[1:]),
                     detail="found in storage by a catalogue rebuild; not yet verified")


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
