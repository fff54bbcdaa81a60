"""Running checks: lease an AIP, check it in storage, record results, event and alerts.

The door (CLI, scheduler, Celery task) opens the catalogue and calls :func:`check_aips`.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping

from sqlalchemy import select

from repository import __version__
from repository.catalog import Aip, AipFile, record_event
from repository.catalog.events import as_utc
from repository.config import Settings
from repository.errors import NotFound
from repository.storage import Storage, load_locations

from .alerts import failure_alert, send_alert, storage_error_alert
from repository.catalog.chain_store import record_chain_head
from .history import record_history
from .check import AipCheckResult, CatalogueFile, FileResult, check_aip, hashing_pool
from .models import ERROR, FixityAipStatus, FixityCheck, FixityResult, LocationHealth
from .schedule import acquire_lease, release_lease

log = logging.getLogger(__name__)


def agent_name() -> str:
    return f"Kho {__version__} fixity ({socket.gethostname()}:{os.getpid()})"


@dataclass
class RunSummary:
    """What one run did: a result per AIP checked, the AIPs another process held."""

    checks: list[AipCheckResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    alerts_sent: list[str] = field(default_factory=list)
    repairs: list = field(default_factory=list)  # RepairResult (repair.py), when automatic

    @property
    def failed(self) -> bool:
        return any(c.outcome != "success" for c in self.checks)


def catalogue_files(session, aip: Aip) -> list[CatalogueFile]:
    """Every stored file the catalogue knows for ``aip``, once per content path."""
    seen: dict[str, CatalogueFile] = {}
    for f in session.scalars(select(AipFile).where(AipFile.aip_id == aip.id)
                             .order_by(AipFile.version)):
        if f.content_path not in seen:
            seen[f.content_path] = CatalogueFile(
                f.version, f.logical_path, f.content_path, f.size,
                {"sha512": f.sha512, **{k: str(v) for k, v in (f.digests or {}).items()}})
    return list(seen.values())


def check_aips(settings: Settings, catalog, identifiers: Iterable[str], *,
               not_checked_since: datetime | None = None, deadline: float | None = None,
               locations: dict[str, Storage] | None = None,
               write_chain_head: bool = True, processes: bool = False, lease_held: bool = False,
               last_seen: Mapping[str, datetime | None] | None = None) -> RunSummary:
    """Check each AIP (by identifier) that no other process is checking now.

    ``not_checked_since``: skip an AIP checked after that moment (a scheduler that chose
    it before another process got to it). ``last_seen``: each AIP's last check as the
    scheduler saw it when choosing; an AIP whose last check is another by the time its
    lease is taken was checked meanwhile (even by a check that had started before the
    choice) and is skipped. ``lease_held``: the caller holds each AIP's lease already (as
    ``agent_name()``) and keeps it after the check, to act on the result. ``deadline`` (time.monotonic()): start no new
    AIP after it. ``processes``: hash local files in forked processes (for a command-line
    run; see ``check.hashing_pool``).
    """
    locations = locations or load_locations(settings)
    holder = agent_name()
    summary = RunSummary()
    pools: dict[str, Executor] = {}
    used: dict[str, Storage] = {}
    try:
        for identifier in identifiers:
            if deadline is not None and time.monotonic() > deadline:
                break
            with catalog.session() as session:
                aip = session.scalar(select(Aip).where(Aip.identifier == identifier))
                if aip is None:
                    raise NotFound(f"no AIP {identifier!r}")
                aip_id, location, ocfl_id, root = aip.id, aip.location, aip.ocfl_id, aip.object_root
            if not lease_held and not acquire_lease(catalog, aip_id, holder,
                                                    settings.fixity_lease_s):
                summary.skipped.append(identifier)
                continue
            try:
                with catalog.session() as session:
                    status = session.get(FixityAipStatus, aip_id)
                    last = as_utc(status.last_checked_at) if status and status.last_checked_at \
                        else None
                    if (not_checked_since is not None and last and last > not_checked_since) or (
                            last_seen is not None and identifier in last_seen
                            and last != _utc_or_none(last_seen[identifier])):
                        summary.skipped.append(identifier)
                        continue
                    files = catalogue_files(session, session.get(Aip, aip_id))
                # Every copy is checked: the primary first, then each replica made so far.
                results = []
                for where in [location, *copy_locations(catalog, aip_id, location)]:
                    storage = locations.get(where)
                    if storage is None:
                        result = AipCheckResult(identifier, where, root, _now(), _now(), [
                            FileResult("", ERROR, detail=f"no storage location named {where!r}")])
                    else:
                        pool = pools.get(where)
                        if pool is None:
                            pool = pools[where] = hashing_pool(
                                storage, settings.fixity_threads, processes=processes)
                        result = check_aip(storage, aip_identifier=identifier, ocfl_id=ocfl_id,
                                           object_root=root, catalogue_files=files, pool=pool,
                                           digests=settings.fixity_digests)
                        if result.outcome != "error":  # never write into an unmounted location
                            used[where] = storage
                    check = record_check(catalog, aip_id, result, holder, update_status=False)
                    if result.outcome != "error":  # storage answered: keep the check there too
                        record_history(catalog, storage, check.id)
                    summary.checks.append(result)
                    results.append(result)
                    summary.alerts_sent += _alert(settings, catalog, result,
                                                  storage.describe() if storage else "")
                if settings.fixity_auto_repair and len(results) > 1 and any(
                        r.outcome == "failure" for r in results):
                    from .repair import repair_from_checks
                    repaired = repair_from_checks(settings, catalog, identifier, results,
                                                  locations=locations, agent=holder)
                    summary.repairs.append(repaired)
                    summary.alerts_sent += repaired.alerts_sent
                    results = [repaired.rechecks.get(r.location, r) for r in results]
                with catalog.session() as session:
                    _set_status(session, aip_id, combined_outcome(results),
                                results[0].started_at)
            finally:
                if not lease_held:
                    release_lease(catalog, aip_id, holder)
    finally:
        for pool in pools.values():
            pool.shutdown()
        if write_chain_head and summary.checks:
            record_chain_head(catalog, used.values())
    return summary


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment else None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def copy_locations(catalog, aip_id: int, primary: str) -> list[str]:
    """The AIP's other recorded copies (made, failed, or found by a rebuild): each is checked."""
    from repository.catalog.models import AipCopy
    with catalog.session() as session:
        return [c.location for c in session.scalars(
            select(AipCopy).where(AipCopy.aip_id == aip_id, AipCopy.location != primary)
            .order_by(AipCopy.location))]


def combined_outcome(results: list[AipCheckResult]) -> str:
    """One AIP's outcome over its copies: failure if any copy failed, else error if any
    could not be read, else success."""
    outcomes = {r.outcome for r in results}
    return "failure" if "failure" in outcomes else "error" if "error" in outcomes else "success"


def _set_status(session, aip_id: int, outcome: str, started_at: datetime) -> None:
    status = session.get(FixityAipStatus, aip_id)
    if status is None:
        status = FixityAipStatus(aip_id=aip_id)
        session.add(status)
    if outcome != "error":  # an error proves nothing: the AIP stays due
        status.last_checked_at = started_at
        status.last_outcome = outcome
        if outcome == "success":
            status.last_success_at = started_at
    elif status.last_checked_at is None:
        status.last_outcome = "error"


def _set_copy_state(session, aip_id: int, result: AipCheckResult) -> None:
    """A recorded copy follows its latest check: verified when it passed, failed when not."""
    from repository.catalog.models import AipCopy
    copy = session.scalar(select(AipCopy).where(AipCopy.aip_id == aip_id,
                                                AipCopy.location == result.location))
    if copy is None or result.outcome == "error":
        return
    if result.outcome == "success":
        copy.state, copy.verified_at = "verified", result.finished_at or _now()
        copy.version = session.get(Aip, aip_id).current_version
        copy.detail = "passed its fixity check"
    else:
        copy.state = "failed"
        copy.detail = "fixity check failed: " + "; ".join(
            f"{r.outcome}: {r.path}" for r in result.failures[:10])


def record_check(catalog, aip_id: int, result: AipCheckResult, agent: str, *,
                 update_status: bool = True) -> FixityCheck:
    """One transaction: the check, a row per file, the copy's state, the AIP's status
    (unless the caller combines several copies' checks) and a PREMIS event."""
    finished = result.finished_at or _now()
    with catalog.session() as session:
        check = FixityCheck(aip_id=aip_id, aip_identifier=result.aip_identifier,
                            location=result.location, started_at=result.started_at,
                            finished_at=finished, outcome=result.outcome,
                            files_checked=result.files_checked,
                            bytes_checked=result.bytes_checked,
                            failures=len(result.failures), errors=len(result.errors), agent=agent)
        session.add(check)
        session.flush()
        session.add_all(FixityResult(
            check_id=check.id, aip_identifier=result.aip_identifier, version=r.version,
            path=r.path, location=result.location, algorithm=r.algorithm,
            expected=r.expected[:200], actual=r.actual[:200], size=r.size, outcome=r.outcome,
            detail=r.detail, checked_at=r.checked_at, duration_s=r.duration_s)
            for r in result.results)
        if update_status:
            _set_status(session, aip_id, result.outcome, result.started_at)
        _set_copy_state(session, aip_id, result)
        event = record_event(
            session, event_type="fixity check", agent=agent,
            # PREMIS outcome words are success|failure|warning: storage errors are warnings.
            outcome={"success": "success", "failure": "failure"}.get(result.outcome, "warning"),
            detail=_event_detail(result), aip_identifier=result.aip_identifier, when=finished)
        check.event_identifier = event.identifier
        _update_health(session, result)
    return check


def _event_detail(result: AipCheckResult) -> str:
    text = (f"{result.files_checked} files, {result.bytes_checked} bytes checked in "
            f"{result.location}: {len(result.failures)} failures, {len(result.errors)} errors")
    problems = [f"{r.outcome}: {r.path}" for r in result.failures + result.errors][:20]
    return text + ("; " + "; ".join(problems) if problems else "")


def _update_health(session, result: AipCheckResult) -> None:
    health = session.get(LocationHealth, result.location)
    if health is None:
        health = LocationHealth(location=result.location)
        session.add(health)
    if result.outcome == "error":
        health.failing_since = health.failing_since or result.started_at
        health.last_error = "; ".join(r.detail for r in result.errors)[:2000]
    else:
        health.failing_since, health.alerted_at, health.last_error = None, None, ""


def _alert(settings: Settings, catalog, result: AipCheckResult, where: str) -> list[str]:
    if result.failures:
        return send_alert(settings, failure_alert(result, where))
    if result.outcome != "error":
        return []
    with catalog.session() as session:
        health = session.get(LocationHealth, result.location)
        if health is None or health.failing_since is None or health.alerted_at is not None:
            return []
        since = as_utc(health.failing_since)
        if _now() - since < timedelta(seconds=settings.alert_error_after_s):
            return []
        health.alerted_at = _now()
        alert = storage_error_alert(result.location, since, health.last_error)
    return send_alert(settings, alert)
