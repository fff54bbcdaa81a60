"""Each AIP's copies in the catalogue (aip_copies) and bringing AIPs up to the replication
policy: copy with storage.replicas, then record the copy's state and a PREMIS
``replication`` event in one transaction per AIP.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import select

from repository.config import Settings
from repository.errors import NotFound
from repository.storage import Storage, load_locations
from repository.storage.replicas import (FAILED, PENDING, VERIFIED, CopyOutcome,
                                         ReplicationPolicy, load_policy, replicate_object)

from .chain_store import record_chain_head
from .events import record_event
from .models import Aip, AipCopy


def set_copy(session, aip: Aip, location: str, state: str, *, version: int,
             verified_at: datetime | None = None, detail: str = "") -> AipCopy:
    """Create or update the row of ``aip``'s copy in ``location``."""
    copy = session.scalar(select(AipCopy).where(AipCopy.aip_id == aip.id,
                                                AipCopy.location == location))
    if copy is None:
        copy = AipCopy(aip_id=aip.id, location=location)
        session.add(copy)
    copy.state, copy.version, copy.detail = state, version, detail[:2000]
    if state == VERIFIED and verified_at is not None:
        copy.verified_at = verified_at  # otherwise the last proof's time is kept
    return copy


def record_copies(catalog, identifier: str, outcomes: Iterable[CopyOutcome], *, agent: str,
                  primary: CopyOutcome | None = None) -> None:
    """Record each copy's state and, for every replica, a PREMIS ``replication`` event."""
    outcomes = list(outcomes)
    if not outcomes and primary is None:
        return
    with catalog.session() as session:
        aip = session.scalar(select(Aip).where(Aip.identifier == identifier))
        if aip is None:
            raise NotFound(f"no AIP {identifier!r}")
        add_copies(session, aip, outcomes, agent=agent, primary=primary)


def add_copies(session, aip: Aip, outcomes: Iterable[CopyOutcome], *, agent: str,
               primary: CopyOutcome | None = None) -> None:
    """``record_copies`` inside the caller's transaction (ingest's registration)."""
    if primary is not None:
        set_copy(session, aip, primary.location, primary.state, version=primary.version,
                 verified_at=primary.verified_at, detail=primary.detail)
    for outcome in outcomes:
        set_copy(session, aip, outcome.location, outcome.state, version=outcome.version,
                 verified_at=outcome.verified_at, detail=outcome.detail)
        record_event(session, event_type="replication", agent=agent,
                     outcome="success" if outcome.state == VERIFIED else "failure",
                     detail=replication_detail(outcome), aip_identifier=aip.identifier)


def replication_detail(outcome: CopyOutcome) -> str:
    """The PREMIS event detail of one copy: where, what version, what was copied and checked."""
    if outcome.state == VERIFIED:
        return (f"copy in {outcome.location} at v{outcome.version}: {outcome.files_copied} "
                f"files ({outcome.bytes_copied} bytes) copied, {outcome.files_verified} "
                "files read back and verified against the inventory's sha512")
    return f"copy in {outcome.location} at v{outcome.version} failed: {outcome.detail}"


@dataclass
class CopyStatus:
    """What a reader of the AIP is told about its copies."""

    state: str                      # safe | not safe | single copy
    copies: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "copies": self.copies}


def copy_status(session, aip: Aip, required: Iterable[str] = ()) -> CopyStatus:
    """The AIP's copies and whether it is safe: every required location (and every copy
    recorded) verified at the current version. Without rows or policy: one copy, as before."""
    rows = {c.location: c for c in session.scalars(
        select(AipCopy).where(AipCopy.aip_id == aip.id).order_by(AipCopy.location))}
    required = list(required)
    if not rows and len(required) <= 1:
        return CopyStatus("single copy", [])
    copies = []
    for location in dict.fromkeys([aip.location, *required, *rows]):
        row = rows.get(location)
        state = row.state if row else PENDING
        if row and state == VERIFIED and row.version != aip.current_version:
            state = PENDING  # verified once, but the newest version has not reached it yet
        copies.append({"location": location, "state": state,
                       "primary": location == aip.location,
                       "version": row.version if row else None,
                       "verified_at": row.verified_at.isoformat() if row and row.verified_at
                       else None, "detail": row.detail if row else
                       "not yet verified" if location == aip.location else "not yet copied"})
    safe = all(c["state"] == VERIFIED for c in copies)
    return CopyStatus("safe" if safe else "not safe", copies)


def aip_copy_status(settings: Settings, session, aip: Aip) -> CopyStatus:
    """``copy_status`` under the configured policy; a policy file that cannot be read
    shows what the catalogue records (the error itself is for `kho replicate` to report)."""
    from repository.errors import ConfigurationError
    try:
        policy = load_policy(settings)
    except ConfigurationError:
        policy = None
    return copy_status(session, aip, required_locations(policy, aip))


def required_locations(policy: ReplicationPolicy | None, aip: Aip) -> tuple[str, ...]:
    """Where the policy wants this AIP (nothing extra without a policy)."""
    if policy is None:
        return (aip.location,)
    return policy.locations_for(aip.collection.name)


@dataclass
class ReplicateSummary:
    """What `replicate_aips` did per AIP and location."""

    outcomes: list[tuple[str, CopyOutcome]] = field(default_factory=list)
    up_to_date: list[tuple[str, str]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(o.state != VERIFIED for _, o in self.outcomes)


def replicate_aips(settings: Settings, catalog, identifiers: Iterable[str], *, agent: str,
                   only_location: str | None = None,
                   locations: dict[str, Storage] | None = None) -> ReplicateSummary:
    """Bring each AIP's copies up to the policy (or to ``only_location``), from its primary.

    Idempotent: a copy already verified at the current version is left alone; an
    interrupted one is finished (files already written are kept, then all are verified).
    """
    locations = locations or load_locations(settings)
    policy = load_policy(settings, locations)
    if only_location is not None and only_location not in locations:
        raise NotFound(f"no storage location named {only_location!r} "
                       f"(known: {', '.join(sorted(locations))})")
    summary = ReplicateSummary()
    touched: dict[str, Storage] = {}
    for identifier in identifiers:
        with catalog.session() as session:
            aip = session.scalar(select(Aip).where(Aip.identifier == identifier))
            if aip is None:
                raise NotFound(f"no AIP {identifier!r}")
            wanted = [only_location] if only_location else list(required_locations(policy, aip))
            rows = {c.location: c for c in session.scalars(
                select(AipCopy).where(AipCopy.aip_id == aip.id))}
            todo = []
            for name in wanted:
                if name == aip.location:
                    continue
                row = rows.get(name)
                if row and row.state == VERIFIED and row.version == aip.current_version:
                    summary.up_to_date.append((identifier, name))
                    continue
                todo.append(name)
            primary, ocfl_id = aip.location, aip.ocfl_id
            primary_known = primary in rows
        outcomes = []
        for name in todo:
            source = locations.get(primary)
            if source is None:
                raise NotFound(f"AIP {identifier}: no storage location named {primary!r}")
            outcomes.append(replicate_object(source, locations[name], ocfl_id))
        if outcomes:
            touched[primary] = locations[primary]
            touched.update((o.location, locations[o.location]) for o in outcomes)
            # An AIP from before the policy: its primary was the source of a full copy in
            # which every file matched the inventory's sha512 as it was read.
            first = outcomes[0]
            vouched = (not primary_known and first.state == VERIFIED
                       and first.files_copied == first.files_verified)
            record_copies(catalog, identifier, outcomes, agent=agent, primary=CopyOutcome(
                primary, VERIFIED, first.version, verified_at=first.verified_at,
                detail="source of a full copy: every file matched the inventory as read")
                if vouched else None)
            summary.outcomes += [(identifier, o) for o in outcomes]
    if touched:  # the replication events join the event journal and chain head in storage
        record_chain_head(catalog, touched.values())
    return summary


__all__ = ["CopyStatus", "add_copies", "aip_copy_status", "ReplicateSummary", "copy_status", "record_copies", "replicate_aips",
           "replication_detail", "required_locations", "set_copy", "FAILED", "PENDING",
           "VERIFIED"]
