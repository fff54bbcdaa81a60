"""Writing a register into the catalogue: all or nothing, updating items by shelfmark.

An import either writes every row or none: the rows are checked first (``csv_register``,
``marc_register``), then written in the caller's one transaction, in bulk, so that a
register of 100,000 items loads in seconds.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from repository.errors import NotFound, UsageError
from repository.holdings.models import (HoldingCollection, HoldingItem, HoldingLibrary,
                                        HoldingStatusChange)
from repository.holdings.records import ITEM_FIELDS, ItemRecord
from repository.holdings.vocabulary import (NOT_STARTED, STAFF_STATUSES, STATUS_LABELS,
                                            shelfmark_key)
from repository.metadata.text import fold_for_search

_CHUNK = 5000  # rows per executemany: bounded memory per statement on either database
# Every column of a new item, so that all new rows have one shape (one executemany).
NEW_ITEM = {"collection_id": None, "parallel_titles": [], "creator": "", "date": "",
            "item_type": "", "languages": [], "scripts": [], "rare": False, "condition": "",
            "pages": None, "priority": None, "notes": "", "status": NOT_STARTED,
            "status_changed_at": None}


@dataclass
class ImportSummary:
    """What an import did (or, with --dry-run, would do)."""

    library: str
    created: int = 0
    updated: int = 0
    status_changes: int = 0
    new_collections: list[str] = field(default_factory=list)
    dry_run: bool = False
    encoding: str = ""

    def as_dict(self) -> dict:
        return {"library": self.library, "created": self.created, "updated": self.updated,
                "status_changes": self.status_changes, "new_collections": self.new_collections,
                "dry_run": self.dry_run, "encoding": self.encoding}


def clean_name(name: str, what: str = "library") -> str:
    name = " ".join(unicodedata.normalize("NFC", name or "").split())
    if not name:
        raise UsageError(f"name the {what}")
    if len(name) > 200:
        raise UsageError(f"the {what} name is longer than 200 characters")
    return name


def find_library(session: Session, name: str) -> HoldingLibrary:
    library = session.scalar(select(HoldingLibrary).where(HoldingLibrary.name == clean_name(name)))
    if library is None:
        raise NotFound(f"no library {name!r} in the holdings register")
    return library


def get_or_create_library(session: Session, name: str) -> HoldingLibrary:
    name = clean_name(name)
    library = session.scalar(select(HoldingLibrary).where(HoldingLibrary.name == name))
    if library is None:
        library = HoldingLibrary(name=name, name_key=fold_for_search(name))
        session.add(library)
        session.flush()
    return library


def import_register(session: Session, library_name: str, records: list[ItemRecord], *,
                    agent: str, via: str, dry_run: bool = False,
                    default_collection: str | None = None) -> ImportSummary:
    """Create or update (by shelfmark) every item in ``records``; nothing if ``dry_run``."""
    library = get_or_create_library(session, library_name)
    summary = ImportSummary(library.name, dry_run=dry_run)
    collections = {c.name: c.id for c in session.scalars(
        select(HoldingCollection).where(HoldingCollection.library_id == library.id))}
    wanted = {clean_name(r.collection or default_collection, "collection")
              for r in records if r.collection or default_collection}
    summary.new_collections = sorted(wanted - set(collections))
    if not dry_run and summary.new_collections:
        for name in summary.new_collections:
            row = HoldingCollection(library_id=library.id, name=name)
            session.add(row)
            session.flush()
            collections[name] = row.id
    existing = {key: (item_id, status) for item_id, key, status in session.execute(
        select(HoldingItem.id, HoldingItem.shelfmark_key, HoldingItem.status)
        .where(HoldingItem.library_id == library.id))}
    now = datetime.now(timezone.utc)
    new_rows, changed_rows, history = [], [], []
    collection_ids: dict[str, int | None] = {}  # as written in the file → id, cleaned once
    for record in records:
        key = record.key or shelfmark_key(record.shelfmark)
        values = {k: v for k, v in record.values.items() if k in ITEM_FIELDS}
        values["shelfmark_key"] = key
        collection = record.collection or default_collection
        if collection:
            if collection not in collection_ids:
                collection_ids[collection] = collections.get(clean_name(collection, "collection"))
            values["collection_id"] = collection_ids[collection]
        values["updated_at"] = now
        found = existing.get(key)
        before = found[1] if found else NOT_STARTED
        if record.status and record.status != before:
            values["status"], values["status_changed_at"] = record.status, now
            history.append((key, before, record.status))
        if found:
            # The shelfmark as first written stays: "hn.0002 " in a later file is the same item.
            values.pop("shelfmark", None)
            changed_rows.append({"id": found[0], **values})
        else:
            new_rows.append({**NEW_ITEM, "library_id": library.id, "created_at": now, **values})
            existing[key] = (None, values.get("status", NOT_STARTED))
    summary.created, summary.updated, summary.status_changes = \
        len(new_rows), len(changed_rows), len(history)
    if dry_run:
        return summary
    # Core executemany with every row the same shape: one statement per chunk, not per row.
    for start in range(0, len(new_rows), _CHUNK):
        session.execute(insert(HoldingItem.__table__), new_rows[start:start + _CHUNK])
    # Rows differ in which columns they set (a partial re-import): group by shape so each
    # Core executemany UPDATE touches only the columns its rows carry.
    table = HoldingItem.__table__
    by_shape: dict[tuple[str, ...], list[dict]] = {}
    for row in changed_rows:
        by_shape.setdefault(tuple(sorted(k for k in row if k != "id")), []).append(row)
    for shape, rows in by_shape.items():
        statement = (update(table).where(table.c.id == bindparam("item_id"))
                     .values({name: bindparam(name) for name in shape}))
        for start in range(0, len(rows), _CHUNK):
            session.execute(statement, [{**{k: v for k, v in row.items() if k != "id"},
                                         "item_id": row["id"]}
                                        for row in rows[start:start + _CHUNK]])
    if history:
        ids = dict(session.execute(select(HoldingItem.shelfmark_key, HoldingItem.id)
                                   .where(HoldingItem.library_id == library.id)).all())
        session.execute(insert(HoldingStatusChange.__table__), [
            {"item_id": ids[key], "from_status": before, "to_status": after, "agent": agent,
             "via": via, "note": "", "changed_at": now} for key, before, after in history])
    return summary


def set_status(session: Session, library_name: str, shelfmark: str, status: str, *,
               agent: str, via: str, note: str = "") -> HoldingItem:
    """Move one item to a staff-set status, recording who, when and through which door."""
    if status not in STAFF_STATUSES:
        raise UsageError(f"{status!r} cannot be set by hand: preserved and published follow "
                         "from the AIPs linked to the item; set one of "
                         + ", ".join(STAFF_STATUSES))
    item = find_item(session, library_name, shelfmark)
    if item.status != status:
        now = datetime.now(timezone.utc)
        session.add(HoldingStatusChange(item_id=item.id, from_status=item.status,
                                        to_status=status, agent=agent, via=via,
                                        note=note.strip(), changed_at=now))
        item.status, item.status_changed_at, item.updated_at = status, now, now
    return item


def find_item(session: Session, library_name: str, shelfmark: str) -> HoldingItem:
    library = find_library(session, library_name)
    item = session.scalar(select(HoldingItem).where(
        HoldingItem.library_id == library.id,
        HoldingItem.shelfmark_key == shelfmark_key(shelfmark)))
    if item is None:
        raise NotFound(f"{library.name} has no item with shelfmark {shelfmark!r}")
    return item


def status_history(session: Session, item: HoldingItem) -> list[HoldingStatusChange]:
    return list(session.scalars(select(HoldingStatusChange).where(
        HoldingStatusChange.item_id == item.id).order_by(HoldingStatusChange.id)))


def set_target(session: Session, share: float, deadline: date | None, *,
               library: str, collection: str | None = None) -> None:
    """A target for one library, or one of its collections (the programme's is a setting)."""
    if not 0 < share <= 1:
        raise UsageError(f"a target is a share between 0 and 1 (0.7 for 70%), not {share}")
    row = find_library(session, library)
    if collection:
        name = clean_name(collection, "collection")
        row = session.scalar(select(HoldingCollection).where(
            HoldingCollection.library_id == row.id, HoldingCollection.name == name))
        if row is None:
            raise NotFound(f"{library} has no collection {collection!r}")
    row.target_share, row.target_date = share, deadline


def status_label(status: str, lang: str = "en") -> str:
    return STATUS_LABELS.get(lang, STATUS_LABELS["en"]).get(status, status)
