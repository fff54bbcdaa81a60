"""Each AIP's fixity history in storage, so `kho catalog rebuild` brings it back.

The catalogue keeps a row per file per check; storage keeps a compact history: one entry
per check (when, outcome, counts, agent, its PREMIS event) with only the files that did
not pass. One self-describing JSON file per AIP per location (``"kho:fixity-history"``,
version 1) in the storage-root extension folder beside the collection records (OCFL 1.1
§4.1), named by the SHA-256 of the OCFL object id and replaced whole at each check, so a
reader sees the old history or the new one, never half. A location keeps the history of
the copy it holds, so each copy of an AIP has its own.

Bounded: the newest MAX_CHECKS checks and MAX_PROBLEMS problems per check are kept; what
was left off is counted in the file.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
from datetime import datetime
from typing import Any, Iterable, Iterator

from sqlalchemy import insert, select

from repository.catalog.events import as_utc
from repository.catalog.models import Aip
from repository.errors import KhoError, NotFound, StorageError
from repository.storage import Storage
from repository.storage.records import parse_record

from .models import OK, FixityAipStatus, FixityCheck, FixityResult

HISTORY_PREFIX = "extensions/kho-fixity/"
HISTORY_TYPE = "kho:fixity-history"
HISTORY_VERSION = 1
MAX_CHECKS = 1000          # ~ three years of daily checks; older ones are counted, not kept
MAX_PROBLEMS = 200         # per check: a wholly corrupted AIP still makes a small file
log = logging.getLogger(__name__)


def history_key(ocfl_id: str) -> str:
    """The storage key of the fixity history of the object ``ocfl_id``."""
    return f"{HISTORY_PREFIX}{hashlib.sha256(ocfl_id.encode('utf-8')).hexdigest()}.json"


def _time(moment: datetime) -> str:
    return as_utc(moment).isoformat(timespec="microseconds")


def check_entry(check: FixityCheck, results: Iterable[FixityResult]) -> dict[str, Any]:
    """One check as the history keeps it: its counts and the files that did not pass."""
    problems = [r for r in results if r.outcome != OK]
    return {"started_at": _time(check.started_at), "finished_at": _time(check.finished_at),
            "outcome": check.outcome, "files_checked": check.files_checked,
            "bytes_checked": check.bytes_checked, "failures": check.failures,
            "errors": check.errors, "agent": check.agent, "event": check.event_identifier,
            "problems_left_off": max(0, len(problems) - MAX_PROBLEMS),
            "problems": [{"path": r.path, "version": r.version, "algorithm": r.algorithm,
                          "expected": r.expected, "actual": r.actual, "size": r.size,
                          "outcome": r.outcome, "detail": r.detail,
                          "checked_at": _time(r.checked_at), "duration_s": r.duration_s}
                         for r in problems[:MAX_PROBLEMS]]}


def read_history(storage: Storage, ocfl_id: str) -> dict | None:
    """The history of ``ocfl_id`` in one location, or None when it has none."""
    key = history_key(ocfl_id)
    try:
        with storage.open(key) as stream:
            return _parse(storage, key, stream.read())
    except NotFound:
        return None


def read_histories(storage: Storage) -> Iterator[dict]:
    """Every fixity history one location holds."""
    for key in storage.list(HISTORY_PREFIX):
        if key.endswith(".json"):
            with storage.open(key) as stream:
                yield _parse(storage, key, stream.read())


def _parse(storage: Storage, key: str, data: bytes) -> dict:
    return parse_record(storage, key, data, record_type=HISTORY_TYPE, version=HISTORY_VERSION,
                        what="fixity history")


def store_check(storage: Storage, ocfl_id: str, aip_identifier: str, entry: dict) -> None:
    """Add one check to the object's history in ``storage`` (one whole-file put)."""
    history = read_history(storage, ocfl_id) or {
        "type": HISTORY_TYPE, "version": HISTORY_VERSION, "ocfl_id": ocfl_id,
        "aip": aip_identifier, "location": storage.name, "checks_left_off": 0, "checks": []}
    checks = [*history["checks"], entry]
    history["checks_left_off"] = int(history.get("checks_left_off", 0)) + max(
        0, len(checks) - MAX_CHECKS)
    history["checks"] = checks[-MAX_CHECKS:]
    body = json.dumps(history, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
    storage.put(history_key(ocfl_id), io.BytesIO(body), size=len(body), algorithms=())


def record_history(catalog, storage: Storage, check_id: int) -> None:
    """Write catalogue check ``check_id`` to its AIP's history in ``storage``; trouble is
    logged (the catalogue still has the check; the next check writes the history again)."""
    with catalog.session() as session:
        check = session.get(FixityCheck, check_id)
        ocfl_id = session.scalar(select(Aip.ocfl_id).where(Aip.id == check.aip_id))
        results = session.scalars(select(FixityResult).where(
            FixityResult.check_id == check_id, FixityResult.outcome != OK)
            .order_by(FixityResult.id))
        entry = check_entry(check, results)
        identifier = check.aip_identifier
    try:
        store_check(storage, ocfl_id, identifier, entry)
    except StorageError as exc:
        log.warning("cannot write the fixity history of %s to %s: %s",
                    identifier, storage.name, exc)


def restore_histories(catalog, locations: dict[str, Storage]) -> tuple[int, list[str]]:
    """Put every stored check back into an (otherwise rebuilt) catalogue: the checks, their
    problem rows and each AIP's latest status. Returns (checks restored, problems)."""
    restored, problems = 0, []
    for name, storage in locations.items():
        try:
            histories = list(read_histories(storage))
        except KhoError as exc:
            problems.append(f"{name}: cannot read fixity histories: {exc}")
            continue
        for history in histories:
            with catalog.session() as session:
                aip = session.scalar(select(Aip).where(Aip.ocfl_id == history["ocfl_id"]))
                if aip is None:
                    problems.append(f"{name}: fixity history of {history['ocfl_id']} names "
                                    "an object no location holds")
                    continue
                for entry in history["checks"]:
                    _restore_check(session, aip, name, entry)
                    restored += 1
    with catalog.session() as session:  # never-checked AIPs get the row the scheduler gives them
        session.execute(insert(FixityAipStatus).from_select(["aip_id"], select(Aip.id).where(
            Aip.id.not_in(select(FixityAipStatus.aip_id)))))
    return restored, problems


def _restore_check(session, aip: Aip, location: str, entry: dict) -> None:
    started = datetime.fromisoformat(entry["started_at"])
    check = FixityCheck(aip_id=aip.id, aip_identifier=aip.identifier, location=location,
                        started_at=started, finished_at=datetime.fromisoformat(entry["finished_at"]),
                        outcome=entry["outcome"], files_checked=entry["files_checked"],
                        bytes_checked=entry["bytes_checked"], failures=entry["failures"],
                        errors=entry["errors"], agent=entry["agent"],
                        event_identifier=entry.get("event"))
    session.add(check)
    session.flush()
    session.add_all(FixityResult(
        check_id=check.id, aip_identifier=aip.identifier, version=p["version"],
        path=p["path"], location=location, algorithm=p["algorithm"], expected=p["expected"],
        actual=p["actual"], size=p["size"], outcome=p["outcome"], detail=p["detail"],
        checked_at=datetime.fromisoformat(p["checked_at"]), duration_s=p["duration_s"])
        for p in entry["problems"])
    # As record_check keeps it: an error proves nothing, so it never moves the dates.
    status = session.get(FixityAipStatus, aip.id)
    if status is None:
        status = FixityAipStatus(aip_id=aip.id)
        session.add(status)
    if entry["outcome"] != "error":
        if status.last_checked_at is None or as_utc(status.last_checked_at) <= started:
            status.last_checked_at, status.last_outcome = started, entry["outcome"]
        if entry["outcome"] == "success" and (status.last_success_at is None
                                              or as_utc(status.last_success_at) <= started):
            status.last_success_at = started
    elif status.last_checked_at is None:
        status.last_outcome = "error"
