"""The event chain in storage: its head and a journal of every event, outside the database.

Removing the newest events leaves a shorter chain that still verifies; a head recorded in
storage (written after every transaction that adds events: ingest, new versions, access
changes, OCR, fixity runs) catches that. Beside it, the same call appends every event not
yet journaled to an events journal, so `kho catalog rebuild` can restore the log event for
event (identifier, time, agent, outcome, detail, linked object) in chain order: the rebuilt
log hashes to the same head and `kho audit verify` needs no ``--ignore-stored-head``.

Both live in a storage-root extension folder, the only place besides object roots that
OCFL 1.1 §4.1 allows in a storage root. The journal is a series of segments, each one
whole file written in one put and never rewritten, named by the chain positions it holds
(``events/000000000001-000000000042.json``): two processes journaling at once write
segments that overlap but agree, and a reader follows the chain back from the head.
"""
from __future__ import annotations

import io
import json
import logging
import re
from datetime import datetime, timezone
from typing import Iterable, Iterator

from sqlalchemy import func, select

from repository.catalog.events import GENESIS_DIGEST, as_utc
from repository.catalog.models import PremisEvent
from repository.errors import NotFound, StorageError
from repository.storage import Storage
from repository.storage.records import parse_record

CHAIN_HEAD_KEY = "extensions/kho-event-chain/head.json"
JOURNAL_PREFIX = "extensions/kho-event-chain/events/"
JOURNAL_TYPE = "kho:event-journal"
JOURNAL_VERSION = 1
# Events per segment: a segment stays small enough to read whole (a few MB at most).
SEGMENT_EVENTS = 5000
_SEGMENT_NAME = re.compile(r"(\d{12})-(\d{12})\.json$")
log = logging.getLogger(__name__)


def read_chain_head(storage: Storage) -> dict | None:
    """The head recorded in one location ({"head", "events", "identifier", "written_at"}), or None."""
    try:
        with storage.open(CHAIN_HEAD_KEY) as stream:
            data = json.loads(stream.read().decode("utf-8"))
    except NotFound:
        return None
    except (ValueError, UnicodeDecodeError) as exc:
        raise StorageError(f"{storage.name}: {CHAIN_HEAD_KEY} is not valid JSON: {exc}") from exc
    return data if isinstance(data, dict) and "head" in data else None


def write_chain_head(storage: Storage, head: str, events: int, identifier: str = "") -> None:
    """Record ``head`` unless the location already holds a head of a longer log."""
    current = read_chain_head(storage)
    if current and int(current.get("events", 0)) > events:
        return  # another process recorded a newer head meanwhile
    body = json.dumps({"head": head, "events": events, "identifier": identifier,
                       "written_at": datetime.now(timezone.utc).isoformat()}).encode() + b"\n"
    storage.put(CHAIN_HEAD_KEY, io.BytesIO(body), size=len(body), algorithms=())


def journal_entry(event: PremisEvent, position: int) -> dict:
    """An event as the journal keeps it: everything its digest covers, and the digest."""
    return {"position": position, "identifier": event.identifier,
            "aip": event.aip_identifier, "type": event.event_type,
            "datetime": as_utc(event.event_datetime).isoformat(timespec="microseconds"),
            "agent": event.agent, "outcome": event.outcome, "detail": event.detail,
            "file": event.file_path, "prev_digest": event.prev_digest, "digest": event.digest}


def _journaled_up_to(session, stored: dict | None) -> tuple[int, int]:
    """(chain position, event id) of the stored head when the log holds it there, else (0, 0):
    a location without a head (or with a head from before the journal) is journaled whole."""
    if not stored or not stored.get("identifier"):
        return 0, 0
    found = session.execute(select(PremisEvent.id, PremisEvent.digest).where(
        PremisEvent.identifier == stored["identifier"])).first()
    if found is None or found.digest != stored["head"]:
        return 0, 0
    position = session.scalar(select(func.count(PremisEvent.id))
                              .where(PremisEvent.id <= found.id)) or 0
    return (position, found.id) if position == int(stored.get("events", -1)) else (0, 0)


def _write_segment(storage: Storage, entries: list[dict]) -> None:
    first, last = entries[0]["position"], entries[-1]["position"]
    body = json.dumps({"type": JOURNAL_TYPE, "version": JOURNAL_VERSION, "first": first,
                       "last": last, "events": entries},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
    storage.put(f"{JOURNAL_PREFIX}{first:012d}-{last:012d}.json", io.BytesIO(body),
                size=len(body), algorithms=())


def journal_and_record_head(catalog, storage: Storage) -> None:
    """Journal the events ``storage`` has not got yet, then record the new head there.

    The head is written only after the segments holding every event up to it, so a head in
    storage always has its whole chain beside it."""
    stored = read_chain_head(storage)
    with catalog.session() as session:
        total = session.scalar(select(func.count(PremisEvent.id))) or 0
        if stored and int(stored.get("events", 0)) > total:
            return  # storage knows a longer log than this catalogue: audit verify says so
        position, after_id = _journaled_up_to(session, stored)
        head = stored["head"] if position else GENESIS_DIGEST
        identifier = stored["identifier"] if position else ""
        batch: list[dict] = []
        query = (select(PremisEvent).where(PremisEvent.id > after_id).order_by(PremisEvent.id)
                 .execution_options(yield_per=SEGMENT_EVENTS))
        for event in session.scalars(query):
            position += 1
            batch.append(journal_entry(event, position))
            head, identifier = event.digest, event.identifier
            if len(batch) == SEGMENT_EVENTS:
                _write_segment(storage, batch)
                batch = []
        if batch:
            _write_segment(storage, batch)
    if position and (not stored or stored.get("head") != head):
        write_chain_head(storage, head, position, identifier)
    elif not position and stored is None:
        write_chain_head(storage, GENESIS_DIGEST, 0)


def record_chain_head(catalog, storages: Iterable[Storage]) -> None:
    """Journal new events and write the chain head to each location; storage trouble is logged."""
    for storage in storages:
        try:
            journal_and_record_head(catalog, storage)
        except StorageError as exc:  # the next ingest or fixity run writes it again
            log.warning("cannot record the event chain in %s: %s", storage.name, exc)


def newest_stored_head(storages: Iterable[Storage]) -> tuple[str, str] | None:
    """(head, location name) of the longest log any reachable location recorded."""
    best: tuple[int, str, str] | None = None
    for storage in storages:
        try:
            data = read_chain_head(storage)
        except StorageError as exc:
            log.warning("cannot read the event-chain head in %s: %s", storage.name, exc)
            continue
        if data and (best is None or int(data.get("events", 0)) > best[0]):
            best = (int(data.get("events", 0)), str(data["head"]), storage.name)
    return (best[1], best[2]) if best else None


def _segments(storage: Storage) -> Iterator[dict]:
    for key in sorted(storage.list(JOURNAL_PREFIX)):
        if not _SEGMENT_NAME.search(key):
            continue
        with storage.open(key) as stream:
            yield parse_record(storage, key, stream.read(), record_type=JOURNAL_TYPE,
                               version=JOURNAL_VERSION, what="event-journal segment")


def read_journal(storage: Storage) -> list[dict] | None:
    """The location's journaled events in chain order, ending at its recorded head.

    None when the location has no head or no journal (written before journals existed).
    Follows the chain back from the head, so overlapping segments and segments of an
    abandoned chain do no harm; a gap raises StorageError naming the missing position."""
    stored = read_chain_head(storage)
    if not stored or not stored.get("identifier"):
        return None
    by_position: dict[int, dict[str, dict]] = {}
    for segment in _segments(storage):
        for entry in segment.get("events", []):
            by_position.setdefault(int(entry["position"]), {})[entry["digest"]] = entry
    if not by_position:
        return None
    chain: list[dict] = []
    want = stored["head"]
    for position in range(int(stored["events"]), 0, -1):
        entry = by_position.get(position, {}).get(want)
        if entry is None:
            raise StorageError(f"{storage.name}: the event journal lacks event {position} "
                               f"(digest {want}) of the chain recorded in {CHAIN_HEAD_KEY}")
        chain.append(entry)
        want = entry["prev_digest"]
    if want != GENESIS_DIGEST:
        raise StorageError(f"{storage.name}: the event journal's first event does not start "
                           "the chain")
    chain.reverse()
    return chain
