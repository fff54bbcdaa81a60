"""The event-chain head in storage: the log's newest digest, kept outside the database.

Removing the newest events leaves a shorter chain that still verifies; a head recorded in
storage (written after each ingest and each fixity run) catches that. It lives in a
storage-root extension folder, the only place besides object roots that OCFL 1.1 §4.1
allows in a storage root.
"""
from __future__ import annotations

import io
import json
import logging
from datetime import datetime, timezone
from typing import Iterable

from sqlalchemy import func, select

from repository.catalog.events import chain_head
from repository.catalog.models import PremisEvent
from repository.errors import NotFound, StorageError
from repository.storage import Storage

CHAIN_HEAD_KEY = "extensions/kho-event-chain/head.json"
log = logging.getLogger(__name__)


def read_chain_head(storage: Storage) -> dict | None:
    """The head recorded in one location ({"head", "events", "written_at"}), or None."""
    try:
        with storage.open(CHAIN_HEAD_KEY) as stream:
            data = json.loads(stream.read().decode("utf-8"))
    except NotFound:
        return None
    except (ValueError, UnicodeDecodeError) as exc:
        raise StorageError(f"{storage.name}: {CHAIN_HEAD_KEY} is not valid JSON: {exc}") from exc
    return data if isinstance(data, dict) and "head" in data else None


def write_chain_head(storage: Storage, head: str, events: int) -> None:
    """Record ``head`` unless the location already holds a head of a longer log."""
    current = read_chain_head(storage)
    if current and int(current.get("events", 0)) > events:
        return  # another process recorded a newer head meanwhile
    body = json.dumps({"head": head, "events": events,
                       "written_at": datetime.now(timezone.utc).isoformat()}).encode() + b"\n"
    storage.put(CHAIN_HEAD_KEY, io.BytesIO(body), size=len(body), algorithms=())


def record_chain_head(catalog, storages: Iterable[Storage]) -> None:
    """Write the catalogue's current chain head to each location; storage trouble is logged."""
    with catalog.session() as session:
        head = chain_head(session)
        count = session.scalar(select(func.count(PremisEvent.id))) or 0
    for storage in storages:
        try:
            write_chain_head(storage, head, count)
        except StorageError as exc:  # the next ingest or fixity run writes it again
            log.warning("cannot record the event-chain head in %s: %s", storage.name, exc)


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
