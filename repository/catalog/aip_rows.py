"""The one place that writes an AIP's catalogue rows: the AIP, its versions, files and
Dublin Core record.

Ingest, amend (a new version of held metadata), withdrawal and rebuild all describe the
AIP the same plain way, as it is in storage (its ``aip.json``, its OCFL inventory, the
versions to add), and call :func:`write_aip` inside their own transaction. Events are not
written here: each caller records them through the event log (``events.record_event``),
in the order that keeps the hash chain.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from repository.catalog.collections import require_collection
from repository.catalog.files import FORMAT_FIELDS, file_rows
from repository.catalog.models import Aip, AipFile, AipVersion, DublinCoreRecord
from repository.metadata import primary_title, search_text
from repository.storage.aip_layout import AipDescription

# File rows go to the database this many at a time: one insert of a 20,000-file bag's
# rows held them all, and the driver's copies of them, at once (peak RSS over 200 MB).
INSERT_BATCH = 1000


@dataclass(frozen=True)
class VersionRows:
    """One OCFL version to catalogue. ``formats`` and ``sizes`` are by logical path; a path
    missing from them keeps what the AIP's previous version had (an unchanged file)."""

    number: int
    message: str
    agent: str
    created_at: datetime
    formats: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    sizes: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AipRows:
    """A plain description of one AIP for the catalogue, as storage holds it."""

    description: AipDescription      # kho-metadata/aip.json of the newest version
    inventory: Any                   # its OCFL Inventory (storage.ocfl.Inventory)
    location: str
    object_root: str
    versions: list[VersionRows]      # the versions to add, oldest first
    # The Dublin Core record; None keeps the one the catalogue has (amend of access only).
    dublin_core: dict | None = None
    # When that record last changed (rebuild: an earlier version's time); default the newest.
    described_at: datetime | None = None


def write_aip(session: Session, rows: AipRows) -> Aip:
    """Create or update the AIP ``rows`` describes and add its versions; returns the row.

    The caller owns the transaction: if anything after this fails, nothing of it stays.
    """
    from repository.access.rights import parse_access  # the access grammar lives there
    description = rows.description
    policy = parse_access(description.access)
    first, last = rows.versions[0], rows.versions[-1]
    collection = require_collection(session, description.collection)
    aip = session.scalar(select(Aip).where(Aip.identifier == description.identifier))
    if aip is None:
        aip = Aip(identifier=description.identifier, ocfl_id=rows.inventory.id,
                  collection=collection, created_at=first.created_at)
        session.add(aip)
    aip.collection = collection
    aip.location, aip.object_root = rows.location, rows.object_root
    aip.external_identifier = description.external_identifier
    aip.payload_digest = description.payload_fingerprint
    aip.access, aip.embargo_until = policy.level, policy.embargo_until
    withdrawn = description.withdrawn or {}
    aip.withdrawn_at = _parse_time(withdrawn["at"]) if withdrawn else None
    aip.withdrawal_reason = withdrawn.get("reason", "") if withdrawn else None
    session.flush()  # the AIP's id, for the file rows below
    previous = _current_files(session, aip)
    for number, version in enumerate(rows.versions, 1):
        formats = {**previous[0], **version.formats}
        sizes = {**previous[1], **version.sizes}
        session.add(AipVersion(aip=aip, number=version.number, message=version.message,
                               agent=version.agent, created_at=version.created_at))
        # A later version (rebuild adds many) inherits this one's formats and sizes; for
        # the last, only the payload's totals are kept.
        later = number < len(rows.versions)
        previous = ({}, {})
        total_size = file_count = 0
        batch: list[dict[str, Any]] = []
        for row in file_rows(aip.id, version.number, rows.inventory, formats, sizes):
            if later:
                previous[0][row["logical_path"]] = {name: row[name] for name in FORMAT_FIELDS}
                previous[1][row["logical_path"]] = row["size"]
            if row["role"] == "payload":
                total_size, file_count = total_size + row["size"], file_count + 1
            batch.append(row)
            if len(batch) == INSERT_BATCH:
                session.execute(insert(AipFile), batch)
                batch = []
        if batch:
            session.execute(insert(AipFile), batch)
    aip.total_size, aip.file_count = total_size, file_count
    aip.current_version, aip.updated_at = last.number, last.created_at
    if rows.dublin_core is not None:
        record = rows.dublin_core
        if aip.dublin_core is None:
            aip.dublin_core = DublinCoreRecord(record=record)
        aip.dublin_core.record = record
        aip.dublin_core.title = primary_title(record)
        aip.dublin_core.search_text = search_text(record)
        aip.dublin_core.updated_at = rows.described_at or last.created_at
    return aip


def _current_files(session: Session, aip: Aip) -> tuple[dict[str, dict], dict[str, int]]:
    """Formats and sizes by logical path of the AIP's current version (empty for a new AIP)."""
    if aip.current_version is None:
        return {}, {}
    held = session.scalars(select(AipFile).where(AipFile.aip_id == aip.id,
                                                 AipFile.version == aip.current_version))
    formats, sizes = {}, {}
    for row in held:
        formats[row.logical_path] = {name: getattr(row, name) for name in FORMAT_FIELDS}
        sizes[row.logical_path] = row.size
    return formats, sizes


def _parse_time(text: str) -> datetime:
    from datetime import timezone
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
