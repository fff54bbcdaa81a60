"""Collection records in storage: what a collection is and who may read it, outside the database.

Collection access lives in the catalogue, so a catalogue rebuilt from storage alone would
lose it (and open a restricted collection to anyone). Each storage location therefore
keeps one small, self-describing JSON file per collection, written atomically (a whole
new file replaces the old one), holding the collection's name, title, description,
access, embargo and every event that changed it. ``kho catalog rebuild`` reads them back.

The files live in the storage-root extension folder ``extensions/kho-collections/``
(OCFL 1.1 §4.1 allows extensions there; chain_store.py keeps the event-chain head beside
it), named by the SHA-256 of the NFC name so any Vietnamese name is a safe key. The
format carries its own type and version (``"kho:collection-record"``, 1), so later kinds
of record (replicas, fixity history) can sit beside it and old readers can refuse what
they do not understand.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import unicodedata
from datetime import datetime, timezone
from typing import Any, Iterable

from repository.errors import NotFound, StorageError
from repository.storage import Storage
from repository.storage.records import parse_record

RECORD_PREFIX = "extensions/kho-collections/"
RECORD_TYPE = "kho:collection-record"
RECORD_VERSION = 1
log = logging.getLogger(__name__)


def record_key(name: str) -> str:
    """The storage key of the collection called ``name``."""
    digest = hashlib.sha256(unicodedata.normalize("NFC", name).encode("utf-8")).hexdigest()
    return f"{RECORD_PREFIX}{digest}.json"


def collection_record(collection, events: Iterable[dict]) -> dict[str, Any]:
    """The record of a catalogue Collection with its events (oldest first)."""
    embargo = collection.embargo_until
    return {
        "type": RECORD_TYPE, "version": RECORD_VERSION,
        "name": collection.name, "title": collection.title or "",
        "description": collection.description or "",
        "access": collection.access,
        "embargo_until": embargo.isoformat() if embargo else None,
        "written_at": datetime.now(timezone.utc).isoformat(),
        "events": sorted(events, key=lambda e: (e["datetime"], e["identifier"])),
    }


def event_entry(event) -> dict[str, Any]:
    """A catalogue PremisEvent as the record keeps it (what rebuild replays)."""
    from repository.catalog.events import as_utc
    return {"identifier": event.identifier, "type": event.event_type,
            "datetime": as_utc(event.event_datetime).isoformat(timespec="microseconds"),
            "agent": event.agent, "outcome": event.outcome, "detail": event.detail}


def read_record(storage: Storage, name: str) -> dict | None:
    """The record of ``name`` in one location, or None when it has none."""
    try:
        with storage.open(record_key(name)) as stream:
            return _parse(storage, record_key(name), stream.read())
    except NotFound:
        return None


def read_records(storage: Storage) -> list[dict]:
    """Every collection record one location holds."""
    records = []
    for key in storage.list(RECORD_PREFIX):
        if not key.endswith(".json"):
            continue
        with storage.open(key) as stream:
            records.append(_parse(storage, key, stream.read()))
    return records


def _parse(storage: Storage, key: str, data: bytes) -> dict:
    return parse_record(storage, key, data, record_type=RECORD_TYPE, version=RECORD_VERSION,
                        what="collection record")


def merge_records(records: Iterable[dict]) -> dict[str, dict]:
    """Name → the newest record of each collection, with the events of every copy."""
    merged: dict[str, dict] = {}
    for record in records:
        name = unicodedata.normalize("NFC", record["name"])
        current = merged.get(name)
        events = {e["identifier"]: e for e in (current or {}).get("events", [])}
        events.update({e["identifier"]: e for e in record.get("events", [])})
        newest = record if current is None or record["written_at"] > current["written_at"] \
            else current
        merged[name] = {**newest, "events": sorted(
            events.values(), key=lambda e: (e["datetime"], e["identifier"]))}
    return merged


def write_record(storage: Storage, record: dict) -> None:
    """Write ``record`` to one location in one atomic put."""
    body = json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"
    storage.put(record_key(record["name"]), io.BytesIO(body), size=len(body), algorithms=())


def store_collection(collection, storages: Iterable[Storage], new_events: Iterable = ()) -> dict:
    """Write the collection's record to every location, keeping the events stored before.

    Raises StorageError when a location cannot be written: the caller then changes nothing,
    so storage never says less than the catalogue about who may read a collection.
    """
    storages = list(storages)
    earlier = [r for r in (read_record(s, collection.name) for s in storages) if r]
    events = merge_records(earlier).get(collection.name, {}).get("events", [])
    known = {e["identifier"] for e in events}
    events = [*events, *(e for e in map(event_entry, new_events) if e["identifier"] not in known)]
    record = collection_record(collection, events)
    for storage in storages:
        write_record(storage, record)
    return record


def ensure_collection_stored(collection, storage: Storage, others: Iterable[Storage] = ()) -> None:
    """Write the collection's record to ``storage`` unless it already holds the current one.

    Ingest calls this for the location it stored an AIP in, so every location that holds a
    collection's AIPs also holds the record that says who may read them.
    """
    current = read_record(storage, collection.name)
    embargo = collection.embargo_until.isoformat() if collection.embargo_until else None
    if current and (current.get("access"), current.get("embargo_until"), current.get("title")) \
            == (collection.access, embargo, collection.title or ""):
        return
    copies = [current] if current else []
    for other in others:
        try:
            found = read_record(other, collection.name)
        except StorageError as exc:
            log.warning("cannot read the record of collection %s in %s: %s",
                        collection.name, other.name, exc)
            continue
        if found:
            copies.append(found)
    events = merge_records(copies).get(collection.name, {}).get("events", [])
    write_record(storage, collection_record(collection, events))
