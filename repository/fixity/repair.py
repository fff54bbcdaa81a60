"""Repair: a copy that failed its check is mended from another copy that has just passed.

LOCKSS's rule: only a copy that agrees (here: that passed a full check moments ago) may be
the source. The damaged file is never deleted: it is moved aside into the location's
quarantine (storage root ``extensions/kho-quarantine/<date>/<object root>/<path>``) for
forensics, the good file is streamed over (its sha512 checked while copying), and the copy
is checked again. PREMIS events: the failed check (already recorded by run.py), a
``quarantine`` event, a ``recovery`` event (the repair), and the passing check. When no copy
passed, nothing is changed and an alert goes out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from repository.catalog import Aip, record_event
from repository.catalog.chain_store import record_chain_head
from repository.config import Settings
from repository.errors import KhoError, NotFound
from repository.storage import Storage, load_locations
from repository.storage.ocfl import DIGEST_ALGORITHM, INVENTORY, SIDECAR, Inventory, OcflStore

from .alerts import Alert, send_alert
from .check import AipCheckResult, check_aip
from .history import record_history
from .models import CHANGED, INVENTORY_ALTERED, MISSING, SIZE_CHANGED, UNEXPECTED

QUARANTINE = "extensions/kho-quarantine"
# Outcomes a good copy can mend. DISAGREE is the catalogue against the inventory (not a copy's
# bytes) and ERROR proves nothing: neither is repaired.
REPAIRABLE = (CHANGED, SIZE_CHANGED, MISSING, UNEXPECTED, INVENTORY_ALTERED)


@dataclass
class RepairResult:
    """What one repair of one AIP did, per damaged copy."""

    aip_identifier: str
    outcome: str = "nothing to do"   # nothing to do | repaired | not repaired
    source: str | None = None        # the copy that had just passed
    repaired: dict[str, list[str]] = field(default_factory=dict)      # location -> paths
    quarantined: dict[str, list[str]] = field(default_factory=dict)   # location -> keys
    unrepaired: dict[str, list[str]] = field(default_factory=dict)    # location -> reasons
    rechecks: dict[str, AipCheckResult] = field(default_factory=dict)
    alerts_sent: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome in ("nothing to do", "repaired")

    def as_dict(self) -> dict[str, Any]:
        return {"aip": self.aip_identifier, "outcome": self.outcome, "source": self.source,
                "repaired": self.repaired, "quarantined": self.quarantined,
                "unrepaired": self.unrepaired,
                "rechecks": {k: v.outcome for k, v in self.rechecks.items()},
                "alerts": self.alerts_sent}


def repair_aip(settings: Settings, catalog, identifier: str, *, agent: str) -> RepairResult:
    """Check every copy of AIP ``identifier`` now, then repair the ones that failed."""
    from .run import _set_status, agent_name, check_aips, combined_outcome
    from .schedule import acquire_lease, release_lease
    locations = load_locations(settings)
    with catalog.session() as session:
        aip = session.scalar(select(Aip).where(Aip.identifier == identifier))
        if aip is None:
            raise NotFound(f"no AIP {identifier!r}")
        aip_id = aip.id
    # One lease over the check and the repair: no other checker may see (or mend) the copies
    # between the check that found the damage and the recheck that proves the repair.
    holder = agent_name()
    if not acquire_lease(catalog, aip_id, holder, settings.fixity_lease_s):
        return RepairResult(identifier, "not repaired", unrepaired={
            "": ["another process is checking this AIP now; try again later"]})
    try:
        summary = check_aips(settings, catalog, [identifier], locations=locations,
                             lease_held=True)
        checks = [c for c in summary.checks if c.aip_identifier == identifier]
        if summary.repairs:  # KHO_FIXITY_AUTO_REPAIR already did it during the check
            return summary.repairs[-1]
        result = repair_from_checks(settings, catalog, identifier, checks,
                                    locations=locations, agent=agent)
        final = [result.rechecks.get(c.location, c) for c in checks]
        with catalog.session() as session:
            _set_status(session, aip_id, combined_outcome(final), final[0].started_at)
        return result
    finally:
        release_lease(catalog, aip_id, holder)


def repair_from_checks(settings: Settings, catalog, identifier: str,
                       checks: list[AipCheckResult], *, locations: dict[str, Storage],
                       agent: str) -> RepairResult:
    """Mend each copy whose check (in ``checks``, just made) failed, from one that passed."""
    from .run import catalogue_files, record_check
    result = RepairResult(identifier)
    bad = [c for c in checks if c.outcome == "failure"]
    if not bad:
        return result
    good = [c for c in checks if c.outcome == "success" and c.location in locations]
    if not good:
        result.outcome = "not repaired"
        for check in bad:
            result.unrepaired[check.location] = ["no copy passed its check: nothing changed"]
        result.alerts_sent = send_alert(settings, no_good_copy_alert(identifier, checks))
        return result
    source = locations[good[0].location]
    result.source = source.name
    with catalog.session() as session:
        aip = session.scalar(select(Aip).where(Aip.identifier == identifier))
        if aip is None:
            raise NotFound(f"no AIP {identifier!r}")
        aip_id, ocfl_id, root = aip.id, aip.ocfl_id, aip.object_root
        files = catalogue_files(session, aip)
    inventory = OcflStore(source).inventory(ocfl_id)
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    for check in bad:
        target = locations.get(check.location)
        if target is None:
            result.unrepaired[check.location] = [f"no storage location named {check.location!r}"]
            continue
        repaired, moved, reasons = _mend(source, target, root, inventory, check, day)
        result.repaired[target.name], result.quarantined[target.name] = repaired, moved
        if reasons:
            result.unrepaired[target.name] = reasons
        with catalog.session() as session:
            if moved:
                record_event(session, event_type="quarantine", agent=agent, outcome="success",
                             aip_identifier=identifier,
                             detail=f"{len(moved)} damaged file(s) in {target.name} moved aside "
                                    f"for forensics: " + "; ".join(moved))
            record_event(session, event_type="recovery", agent=agent,
                         outcome="failure" if reasons else "success", aip_identifier=identifier,
                         detail=f"copy in {target.name} repaired from the copy in {source.name} "
                                f"(which had just passed its check): {len(repaired)} file(s) "
                                "restored: " + "; ".join(repaired)
                                + (f"; not repaired: {'; '.join(reasons)}" if reasons else ""))
        # Proven again, not assumed: a fresh check of the mended copy, recorded as any other.
        recheck = check_aip(target, aip_identifier=identifier, ocfl_id=ocfl_id, object_root=root,
                            catalogue_files=files, digests="all")
        check_row = record_check(catalog, aip_id, recheck, agent, update_status=False)
        if recheck.outcome != "error":
            record_history(catalog, target, check_row.id)
        result.rechecks[target.name] = recheck
        if recheck.outcome != "success":
            result.unrepaired.setdefault(target.name, []).extend(
                f"{r.outcome}: {r.path}" for r in recheck.failures + recheck.errors)
    result.outcome = "not repaired" if result.unrepaired else "repaired"
    # The quarantine, recovery and check events join the event journal in storage.
    record_chain_head(catalog, [source, *(locations[c.location] for c in bad
                                          if c.location in locations)])
    return result


def _mend(source: Storage, target: Storage, root: str, inventory: Inventory,
          check: AipCheckResult, day: str) -> tuple[list[str], list[str], list[str]]:
    """Move each damaged file aside and copy the good one over; (repaired, moved, reasons)."""
    repaired, moved, reasons = [], [], []
    by_path = inventory.digests_by_content_path()
    failures = list(check.failures)
    paths = {r.path for r in failures}
    if any(r.outcome == INVENTORY_ALTERED or r.path.endswith((INVENTORY, SIDECAR))
           for r in failures):
        # An altered inventory is judged against the whole object: restore the root and
        # version inventories with their sidecars from the good copy, which agree.
        paths |= {INVENTORY, SIDECAR}
        paths |= {f"{v}/{name}" for v in inventory.versions for name in (INVENTORY, SIDECAR)}
    for r in failures:
        if r.outcome not in REPAIRABLE:
            reasons.append(f"{r.outcome}: {r.path}: not a copy's damage; left as it is")
            paths.discard(r.path)
    for path in sorted(paths, key=lambda p: p.endswith(INVENTORY)):  # inventories last
        key = f"{root}/{path}"
        try:
            if target.exists(key):
                if path.endswith((INVENTORY, SIDECAR)) and _same(source, target, key):
                    continue
                moved.append(_quarantine(target, key, day))
            if source.exists(key):  # absent there: an unexpected file, moved aside above
                expected = ({DIGEST_ALGORITHM: by_path[path][DIGEST_ALGORITHM]}
                            if DIGEST_ALGORITHM in by_path.get(path, {}) else None)
                with source.open(key) as stream:
                    target.put(key, stream, size=source.head(key).size,
                               algorithms=(DIGEST_ALGORITHM,), expected=expected)
            repaired.append(path)
        except KhoError as exc:
            reasons.append(f"{path}: {exc}")
    return repaired, moved, reasons


def _same(source: Storage, target: Storage, key: str) -> bool:
    with source.open(key) as a, target.open(key) as b:
        return a.read() == b.read()


def _quarantine(storage: Storage, key: str, day: str) -> str:
    """Move ``key`` into the quarantine (never over an earlier quarantined file); its new key."""
    dest = f"{QUARANTINE}/{day}/{key}"
    if storage.exists(dest):
        stamp = datetime.now(timezone.utc).strftime("%H%M%S%f")
        dest = f"{QUARANTINE}/{day}/{stamp}/{key}"
    storage.copy(key, dest)
    storage.delete(key)
    return dest


def no_good_copy_alert(identifier: str, checks: list[AipCheckResult]) -> Alert:
    """The alert when every copy failed (or none could be read): nothing was changed."""
    lines = [f"AIP {identifier}: no copy passed its fixity check, so none can be repaired "
             "from another. Nothing was changed.", ""]
    for check in checks:
        lines.append(f"- {check.location}: {check.outcome}")
        lines.extend(f"    {r.outcome}: {r.path}" for r in check.failures + check.errors)
    payload = {"kind": "repair impossible", "aip": identifier,
               "copies": {c.location: {"outcome": c.outcome,
                                       "problems": [{"file": r.path, "outcome": r.outcome}
                                                    for r in c.failures + c.errors]}
                          for c in checks}}
    return Alert(f"[Kho] Repair impossible: AIP {identifier} (no copy passed)",
                 "\n".join(lines) + "\n", payload)


__all__ = ["QUARANTINE", "RepairResult", "no_good_copy_alert", "repair_aip",
           "repair_from_checks"]
