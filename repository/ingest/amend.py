"""Changes to a held AIP (its access, its Dublin Core) as a new OCFL version.

Nothing stored is rewritten: the new version carries the changed Kho metadata files and
points at every unchanged file of the previous one; the catalogue follows in one
transaction, and a failed registration rolls the new version back.
"""
from __future__ import annotations

import dataclasses
import io
import json
from datetime import datetime, timezone

from sqlalchemy import select

from repository.access.rights import parse_access
from repository.catalog import Aip, get_aip, record_event
from repository.catalog.aip_rows import AipRows, VersionRows, write_aip
from repository.catalog.chain_store import record_chain_head
from repository.catalog.copies import replicate_aips
from repository.config import Settings
from repository.errors import Conflict, PackageInvalid, UsageError, ValidationReport
from repository.metadata import (canonical_record, normalise_text, primary_title,
                                 validate_record)
from repository.storage import OcflStore, SourceFile, get_location
from repository.storage.aip_layout import (AIP_FILE, DUBLIN_CORE_FILE, EVENTS_FILE,
                                           METADATA_DIR, METADATA_FILES, AipDescription,
                                           dump_json)
from repository.ingest.pipeline import PendingEvent, agent_name


def amend_aip(settings: Settings, catalog, identifier: str, *, agent: str,
              access: str | None = None, dublin_core: dict | None = None,
              files: dict[str, bytes] | None = None, note: str = "") -> int:
    """Store a new version of AIP ``identifier`` with new access, Dublin Core and/or Kho
    metadata ``files`` (e.g. a corrected transcription, described by ``note``); its number."""
    if access is None and dublin_core is None and not files:
        raise UsageError("nothing to change: give access, dublin_core and/or files")
    for path in files or {}:
        # Only Kho's own folder: the bag as deposited is never rewritten.
        if not path.startswith(f"{METADATA_DIR}/") or path in METADATA_FILES or ".." in path:
            raise UsageError(f"{path!r} is not a file Kho may add to an AIP")
    policy = parse_access(access) if access is not None else None
    record = None
    if dublin_core is not None:
        record = canonical_record(dublin_core)
        report = ValidationReport()
        report.extend(validate_record(record, DUBLIN_CORE_FILE))
        if not report.valid:
            raise PackageInvalid(report, "the Dublin Core record is not valid")
    with catalog.session() as session:
        aip = get_aip(session, identifier)
        if aip.withdrawn_at is not None:  # as ingest refuses a new version of it
            raise Conflict(f"AIP {identifier} was withdrawn on "
                           f"{aip.withdrawn_at.date().isoformat()} ({aip.withdrawal_reason}); "
                           "it takes no new versions")
        location, ocfl_id = aip.location, aip.ocfl_id
    store = OcflStore(get_location(settings, location))
    with store.open_file(ocfl_id, AIP_FILE) as stream:
        description = AipDescription.from_dict(json.load(stream))
    changes, details = {}, []
    if policy is not None:
        details.append(f"access changed from {description.access} to {policy}")
        description = dataclasses.replace(description, access=str(policy))
        changes[AIP_FILE] = dump_json(description.as_dict())
    if record is not None:
        details.append(f"Dublin Core record replaced (title: {primary_title(record)})")
        changes[DUBLIN_CORE_FILE] = dump_json(record)
    if files:
        details.append(note or "files changed: " + ", ".join(sorted(files)))
        changes.update(files)
    who = agent_name(agent)
    event = PendingEvent("metadata modification", "success", "; ".join(details))
    changes[EVENTS_FILE] = dump_json([event.as_dict(who)])
    sources = [SourceFile(path, (lambda d=data: io.BytesIO(d)), len(data))
               for path, data in changes.items()]
    inventory = store.add_version(ocfl_id, sources, message="; ".join(details), user_name=who)
    number = int(inventory.head[1:])
    try:
        _register(catalog, store, description, inventory, changes, record, event, who)
    except BaseException:
        store.rollback_version(ocfl_id, inventory.head)
        raise
    record_chain_head(catalog, [store.storage])
    replicate_aips(settings, catalog, [identifier], agent=who)  # the new version reaches every copy
    return number


def _register(catalog, store: OcflStore, description: AipDescription, inventory,
              changes: dict[str, bytes], record: dict | None, event: PendingEvent,
              agent: str) -> None:
    """The new version in the catalogue, in one transaction (catalog.aip_rows)."""
    version = VersionRows(number=int(inventory.head[1:]), agent=agent, created_at=inventory.created(),
                          message=inventory.versions[inventory.head].get("message", ""),
                          sizes={path: len(data) for path, data in changes.items()})
    with catalog.session() as session:
        aip = session.scalar(select(Aip).where(Aip.identifier == description.identifier))
        write_aip(session, AipRows(description=description, inventory=inventory,
                                   location=aip.location, object_root=aip.object_root,
                                   versions=[version], dublin_core=record))
        record_event(session, event_type=event.event_type, agent=agent, outcome=event.outcome,
                     detail=event.detail, aip_identifier=description.identifier,
                     when=event.when, identifier=event.identifier)


def withdraw_aip(settings: Settings, catalog, identifier: str, *, agent: str, reason: str) -> int:
    """Withdraw AIP ``identifier``: a new OCFL version marking it so, and a deaccession event.

    Nothing is deleted: the content stays in storage (and `kho catalog rebuild` restores the
    withdrawal from aip.json), but the AIP leaves every listing and search, its pages answer
    410 with the reason, and OAI-PMH shows it as a deleted record. Returns the version number.
    """
    reason = normalise_text(reason or "").strip()
    if not reason:
        raise UsageError("a withdrawal needs a reason (--reason)")
    with catalog.session() as session:
        aip = get_aip(session, identifier)
        if aip.withdrawn_at is not None:
            raise Conflict(f"AIP {identifier} was already withdrawn on "
                           f"{aip.withdrawn_at.date().isoformat()}: {aip.withdrawal_reason}")
        location, ocfl_id = aip.location, aip.ocfl_id
    store = OcflStore(get_location(settings, location))
    with store.open_file(ocfl_id, AIP_FILE) as stream:
        description = AipDescription.from_dict(json.load(stream))
    who = agent_name(agent)
    # Whole seconds, as aip.json keeps the moment: a rebuilt catalogue says the same.
    event = PendingEvent("deaccession", "success", f"withdrawn: {reason}",
                         datetime.now(timezone.utc).replace(microsecond=0))
    description = dataclasses.replace(description, withdrawn={
        "at": event.when.isoformat(timespec="seconds"), "by": who, "reason": reason})
    changes = {AIP_FILE: dump_json(description.as_dict()),
               EVENTS_FILE: dump_json([event.as_dict(who)])}
    sources = [SourceFile(path, (lambda d=data: io.BytesIO(d)), len(data))
               for path, data in changes.items()]
    inventory = store.add_version(ocfl_id, sources, message=f"withdrawn: {reason}",
                                  user_name=who)
    number = int(inventory.head[1:])
    try:
        _register(catalog, store, description, inventory, changes, None, event, who)
    except BaseException:
        store.rollback_version(ocfl_id, inventory.head)
        raise
    record_chain_head(catalog, [store.storage])
    replicate_aips(settings, catalog, [identifier], agent=who)  # the new version reaches every copy
    return number
