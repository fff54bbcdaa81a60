"""The PREMIS event log, hash-chained for tamper evidence.

Each event's ``digest`` is SHA-256 over a canonical JSON form of its content and of the
digest of the event before it (``prev_digest``, by id order, whole log). Altering,
removing or reordering a row breaks the chain at that row. Removing events from the
*end* leaves a shorter valid chain: that is why the chain head is also written to
storage with each AIP version, and :func:`verify_chain` can check a recorded head.
"""
from __future__ import annotations

import hashlib
import json
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from repository.catalog.database import claim_writer
from repository.catalog.models import PremisEvent
from repository.errors import CatalogError

# PREMIS eventType vocabulary, https://id.loc.gov/vocabulary/preservation/eventType
EVENT_TYPES: tuple[str, ...] = (
    "accession", "appraisal", "capture", "compiling", "compression", "creation",
    "deaccession", "decompression", "decryption", "deletion", "digital signature generation",
    "digital signature validation", "displaying", "dissemination", "encryption", "execution",
    "exporting", "extraction", "filename change", "fixity check", "forensic feature analysis",
    "format identification", "imaging", "information package creation",
    "information package merging", "information package splitting", "ingestion",
    "ingestion end", "ingestion start", "interpreting", "message digest calculation",
    "metadata extraction", "metadata modification", "migration", "modification",
    "normalization", "packing", "policy assignment", "printing", "quarantine", "recovery",
    "redaction", "refreshment", "rendering", "replication", "transfer", "unpacking",
    "unquarantine", "validation", "virus check",
)
# PREMIS eventOutcome is free text; Kho keeps to three words so reports can count them.
OUTCOMES: tuple[str, ...] = ("success", "failure", "warning")

GENESIS_DIGEST = ""  # prev_digest of the first event in the log

# Key of the PostgreSQL advisory lock that serialises appends to the chain ("KHO-PREM").
_CHAIN_LOCK_KEY = 0x4B484F2D5052454D


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (SQLite gives stored UTC times back naive)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _nfc(value: str | None) -> str | None:
    return None if value is None else unicodedata.normalize("NFC", value)


def event_digest(event: PremisEvent) -> str:
    """SHA-256 (hex) of the event's canonical serialisation, including ``prev_digest``."""
    canonical = {
        "identifier": event.identifier,
        "aip_identifier": event.aip_identifier,
        "event_type": event.event_type,
        "event_datetime": as_utc(event.event_datetime).isoformat(timespec="microseconds"),
        "agent": event.agent,
        "outcome": event.outcome,
        "detail": event.detail,
        "file_path": event.file_path,
        "prev_digest": event.prev_digest,
    }
    data = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _lock_chain(session: Session) -> None:
    """Make this transaction the only one appending until it ends, so the chain cannot fork."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # Released at commit or rollback; READ COMMITTED then sees the last committed event.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})
    elif dialect == "sqlite":
        # Before the last event is read; other writers wait (busy_timeout) until we commit.
        claim_writer(session)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        session.execute(select(PremisEvent.id).order_by(PremisEvent.id.desc()).limit(1)
                        .with_for_update())


def chain_head(session: Session) -> str:
    """The digest of the newest event ("" for an empty log)."""
    digest = session.scalar(select(PremisEvent.digest).order_by(PremisEvent.id.desc()).limit(1))
    return digest or GENESIS_DIGEST


def record_event(session: Session, *, event_type: str, agent: str, outcome: str,
                 detail: str = "", aip_identifier: str | None = None,
                 file_path: str | None = None, when: datetime | None = None,
                 identifier: str | None = None) -> PremisEvent:
    """Append one event to the log (flushed, committed with the caller's transaction).

    ``identifier`` keeps the id an event already has in storage (ingest writes its events
    into the AIP first); a new UUID otherwise.
    """
    if event_type not in EVENT_TYPES:
        raise CatalogError(f"unknown PREMIS event type {event_type!r}")
    if outcome not in OUTCOMES:
        raise CatalogError(f"event outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    session.flush()  # earlier pending events get their ids before we take the chain's end
    _lock_chain(session)
    event = PremisEvent(
        identifier=identifier or str(uuid.uuid4()),
        aip_identifier=aip_identifier,
        event_type=event_type,
        # Whole microseconds in UTC: what both SQLite and PostgreSQL store and give back.
        event_datetime=as_utc(when or datetime.now(timezone.utc)),
        agent=_nfc(agent),
        outcome=outcome,
        detail=_nfc(detail) or "",
        file_path=_nfc(file_path),
        prev_digest=chain_head(session),
    )
    event.digest = event_digest(event)
    session.add(event)
    session.flush()
    return event


@dataclass
class ChainVerification:
    """The result of checking the event log: ``first_bad`` names where it breaks."""

    ok: bool
    checked: int
    first_bad: PremisEvent | None = None
    reason: str = ""
    head: str = GENESIS_DIGEST


def verify_chain(session: Session, *, expected_head: str | None = None,
                 batch_size: int = 1000) -> ChainVerification:
    """Recompute every event's digest in id order and check each link to the one before.

    ``expected_head``, a head recorded elsewhere (e.g. in storage), must be the digest of
    some event in the log: otherwise events were removed from the end.
    """
    prev = GENESIS_DIGEST
    checked = 0
    seen_expected = expected_head is None or expected_head == GENESIS_DIGEST
    query = (select(PremisEvent).order_by(PremisEvent.id)
             .execution_options(yield_per=batch_size))
    for event in session.scalars(query):
        if event.prev_digest != prev:
            return ChainVerification(
                False, checked, event,
                "prev_digest does not match the digest of the event before it "
                "(an event was removed, inserted or moved)", prev)
        if event_digest(event) != event.digest:
            return ChainVerification(False, checked, event,
                                     "digest does not match the event's content (altered)", prev)
        checked += 1
        prev = event.digest
        if not seen_expected and prev == expected_head:
            seen_expected = True
    if not seen_expected:
        return ChainVerification(
            False, checked, None,
            f"recorded chain head {expected_head} is not in the log (events removed from the end)",
            prev)
    return ChainVerification(True, checked, None, "", prev)


def events_for_aip(session: Session, aip_identifier: str) -> list[PremisEvent]:
    """The events of one AIP, oldest first."""
    return list(session.scalars(select(PremisEvent)
                                .where(PremisEvent.aip_identifier == aip_identifier)
                                .order_by(PremisEvent.id)))
