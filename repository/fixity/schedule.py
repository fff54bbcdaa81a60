"""The fixity policy: which AIPs to check next, leases so no AIP is checked twice at once,
and the scheduler loop that runs (or, with Celery, enqueues) one bounded batch per tick.

Policy: every AIP is checked at least once every ``fixity_interval_days``; each batch
holds about total bytes / interval days (or ``fixity_nightly_bytes``), never-checked AIPs
first, then the longest unchecked. Choosing a batch is two indexed, limited queries on
``fixity_aip_status.last_checked_at``: it never reads every AIP.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from repository.catalog import Aip
from repository.catalog.events import as_utc
from repository.config import Settings

from .models import FixityAipStatus, FixityLease

log = logging.getLogger(__name__)
# New AIPs are found by id above the highest one already tracked; ids committed out of
# order (PostgreSQL sequences) are caught by looking back this far.
_NEW_AIP_LOOKBACK = 1000
_CHUNK = 500


def _now() -> datetime:
    return datetime.now(timezone.utc)


# -- leases ----------------------------------------------------------------------------------

def acquire_lease(catalog, aip_id: int, holder: str, seconds: int) -> bool:
    """Take the AIP's lease for ``seconds``; False if another live holder has it."""
    now = _now()
    expires = now + timedelta(seconds=seconds)
    try:
        with catalog.session() as session:
            session.add(FixityLease(aip_id=aip_id, holder=holder, expires_at=expires))
        return True
    except IntegrityError:
        pass
    # Someone holds (or held) it: take it over only if that lease has run out.
    with catalog.session() as session:
        taken = session.execute(
            update(FixityLease).where(FixityLease.aip_id == aip_id, FixityLease.expires_at < now)
            .values(holder=holder, expires_at=expires))
        return taken.rowcount == 1


def release_lease(catalog, aip_id: int, holder: str) -> None:
    with catalog.session() as session:
        session.execute(delete(FixityLease).where(FixityLease.aip_id == aip_id,
                                                  FixityLease.holder == holder))


# -- choosing AIPs ------------------------------------------------------------------------------

def track_new_aips(session) -> int:
    """Give each AIP not yet tracked a status row (never checked); returns how many."""
    highest = session.scalar(select(func.max(FixityAipStatus.aip_id))) or 0
    low = max(0, highest - _NEW_AIP_LOOKBACK)
    tracked = select(FixityAipStatus.aip_id).where(FixityAipStatus.aip_id > low)
    new = select(Aip.id).where(Aip.id > low, Aip.id.not_in(tracked))
    result = session.execute(insert(FixityAipStatus).from_select(["aip_id"], new))
    return result.rowcount or 0


@dataclass(frozen=True)
class DueAip:
    aip_id: int
    identifier: str
    size: int
    last_checked_at: datetime | None


def batch_budget(session, settings: Settings) -> int:
    """Bytes one batch should check: the setting, or everything held spread over the interval."""
    if settings.fixity_nightly_bytes > 0:
        return settings.fixity_nightly_bytes
    total = session.scalar(select(func.coalesce(func.sum(Aip.total_size), 0))) or 0
    ticks = max(1.0, settings.fixity_interval_days * 86400 / max(1, settings.fixity_tick_s))
    return max(1, math.ceil(total / ticks))


def next_batch(session, settings: Settings, *, now: datetime | None = None,
               budget: int | None = None) -> list[DueAip]:
    """The next AIPs to check: never-checked first, then oldest-checked, up to ``budget`` bytes.

    Overdue AIPs (last check older than the interval) are always included, whatever the
    budget, so the policy holds even when the budget is too small. At least one AIP.
    """
    now = now or _now()
    track_new_aips(session)
    budget = batch_budget(session, settings) if budget is None else budget
    overdue_before = now - timedelta(days=settings.fixity_interval_days)
    # An AIP checked within the last tick is not due again this tick.
    fresh_after = now - timedelta(seconds=settings.fixity_tick_s)
    chosen: list[DueAip] = []
    used = 0
    queries = [
        select(FixityAipStatus.aip_id, Aip.identifier, Aip.total_size,
               FixityAipStatus.last_checked_at)
        .join(Aip, Aip.id == FixityAipStatus.aip_id)
        .where(FixityAipStatus.last_checked_at.is_(None)).order_by(FixityAipStatus.aip_id),
        select(FixityAipStatus.aip_id, Aip.identifier, Aip.total_size,
               FixityAipStatus.last_checked_at)
        .join(Aip, Aip.id == FixityAipStatus.aip_id)
        .where(FixityAipStatus.last_checked_at.is_not(None),
               FixityAipStatus.last_checked_at < fresh_after)
        .order_by(FixityAipStatus.last_checked_at, FixityAipStatus.aip_id),
    ]
    for query in queries:
        offset = 0
        while True:
            rows = session.execute(query.limit(_CHUNK).offset(offset)).all()
            if not rows:
                break
            for aip_id, identifier, size, last in rows:
                last = as_utc(last) if last else None
                overdue = last is None or last < overdue_before
                if chosen and used + (size or 0) > budget and not overdue:
                    return chosen
                chosen.append(DueAip(aip_id, identifier, size or 0, last))
                used += size or 0
            offset += _CHUNK
    return chosen


def select_aips(session, *, all_aips: bool = False, aip: str | None = None,
                collection: str | None = None, older_than: timedelta | None = None,
                limit: int | None = None, now: datetime | None = None) -> list[str]:
    """AIP identifiers for `kho fixity run`: oldest-checked first (never-checked before all)."""
    query = (select(Aip.identifier)
             .outerjoin(FixityAipStatus, FixityAipStatus.aip_id == Aip.id)
             .order_by(FixityAipStatus.last_checked_at.is_not(None),
                       FixityAipStatus.last_checked_at, Aip.id))
    if aip:
        query = query.where(Aip.identifier == aip)
    if collection:
        from repository.catalog.collections import require_collection
        # An unknown (mistyped) name is an error with suggestions, never "0 AIPs checked".
        found = require_collection(session, collection)
        query = query.where(Aip.collection_id == found.id)
    if older_than is not None:
        cutoff = (now or _now()) - older_than
        query = query.where((FixityAipStatus.last_checked_at.is_(None))
                            | (FixityAipStatus.last_checked_at < cutoff))
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))


# -- the scheduler ---------------------------------------------------------------------------------

def run_batch(settings: Settings, catalog, *, now: datetime | None = None) -> dict:
    """Choose one batch and check it in-process, or enqueue it for Celery workers."""
    chosen_at = now or _now()
    with catalog.session() as session:
        batch = next_batch(session, settings, now=chosen_at)
    identifiers = [d.identifier for d in batch]
    if settings.fixity_executor == "celery":
        from .tasks import enqueue_checks
        enqueue_checks(settings, identifiers, not_checked_since=chosen_at)
        return {"enqueued": len(identifiers), "checked": 0, "skipped": 0}
    from .run import check_aips
    deadline = (time.monotonic() + settings.fixity_nightly_seconds
                if settings.fixity_nightly_seconds > 0 else None)
    summary = check_aips(settings, catalog, identifiers, not_checked_since=chosen_at,
                         deadline=deadline,
                         last_seen={d.identifier: d.last_checked_at for d in batch})
    return {"enqueued": 0, "checked": len(summary.checks), "skipped": len(summary.skipped),
            "failed": sum(1 for c in summary.checks if c.outcome == "failure")}


def run_scheduler(settings: Settings, catalog, stop: threading.Event, *,
                  on_batch: Callable[[dict], None] | None = None) -> None:
    """One batch now, then one every ``fixity_tick_s`` seconds, until ``stop`` is set."""
    while not stop.is_set():
        try:
            done = run_batch(settings, catalog)
            if on_batch:
                on_batch(done)
        except Exception:  # a bad night must not stop the next one
            log.exception("fixity batch failed")
        stop.wait(settings.fixity_tick_s)


def start_background_scheduler(settings: Settings, catalog) -> threading.Event:
    """Run the scheduler in a daemon thread (for `kho serve`); set the returned event to stop."""
    stop = threading.Event()
    thread = threading.Thread(target=run_scheduler, args=(settings, catalog, stop),
                              name="kho-fixity-scheduler", daemon=True)
    thread.start()
    return stop
