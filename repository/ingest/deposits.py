"""Deposits over HTTP: record one, then carry it through ingest, keeping its status current."""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import time
import unicodedata
import uuid
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select, update

from repository.config import Settings
from repository.errors import (KhoError, NotFound, PackageInvalid, UnreadableArchive,
                               UnsafeArchive, UsageError)
from repository.ingest.models import Deposit
from repository.ingest.pipeline import ingest_package

log = logging.getLogger(__name__)

# Pipeline steps as the deposit states a depositor sees.
STEP_STATES = {"validating": "validating",
               "storing": "storing", "registering": "storing"}
# The percentage a deposit shows: each step starts at its mark, and storing (which reads,
# hashes and copies every byte of the bag, nearly all of the work) moves with the bytes
# stored, written at most every PERCENT_STEP so the catalogue is not kept busy.
STEP_PERCENT = {"validating": 5, "storing": 10, "registering": 95}
PERCENT_STEP = 5
# A deposit sent to workers (KHO_INGEST_EXECUTOR=celery) is carried by "celery:<worker>";
# until one takes it, by this.  Such deposits are settled by the workers, not by a
# restarting web server (the deposit is still queued, or another worker will take it over).
CELERY_PREFIX = "celery:"
QUEUED = CELERY_PREFIX + "queued"


def upload_path(settings: Settings, deposit_id: str, filename: str) -> Path:
    """Where an uploaded archive waits for ingest: a folder of its own inside staging, under
    the name it was uploaded with (so depositors recognise it in their list of deposits)."""
    name = unicodedata.normalize("NFC", Path(filename.replace("\\", "/")).name.strip())
    if not name or name in (".", ".."):
        name = "upload.zip"
    folder = settings.staging_dir / "uploads" / deposit_id
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder / name


def discard_upload(path: Path) -> None:
    """Remove an uploaded archive and its own staging folder."""
    path.unlink(missing_ok=True)
    if path.parent.parent.name == "uploads":
        try:
            path.parent.rmdir()
        except OSError:
            pass


def drop_folder_path(settings: Settings, relative: str) -> Path:
    """A bag inside the configured drop folder, refusing anything that leaves it."""
    if settings.drop_folder is None:
        raise UsageError("no drop folder is configured (KHO_DROP_FOLDER)")
    root = Path(settings.drop_folder).resolve()
    try:
        candidate = (root / relative).resolve()
        # Outside the folder is answered like missing: the reply never tells what exists there.
        if (candidate != root and root not in candidate.parents) or not candidate.exists():
            raise NotFound(f"{relative!r} is not in the drop folder")
    except OSError as exc:  # a name too long for the file system, a loop of links …
        raise NotFound(f"{relative!r} is not in the drop folder ({exc.strerror})") from None
    return candidate


def create_deposit(catalog, *, source: str, collection: str, depositor: str,
                   access: str | None = None, location: str | None = None,
                   new_version: bool = False, identifier: str | None = None,
                   queued: bool = False) -> str:
    """Record a received deposit; returns its identifier.  ``queued``: it goes to the
    workers' queue rather than to a thread of this process."""
    identifier = identifier or str(uuid.uuid4())
    with catalog.session() as session:
        session.add(Deposit(identifier=identifier, status="received", source=source,
                            collection=collection, access=access, location=location,
                            new_version=new_version, depositor=depositor,
                            worker=QUEUED if queued else this_worker()))
    return identifier


def set_status(catalog, identifier: str, status: str, **fields) -> None:
    with catalog.session() as session:
        deposit = session.scalar(select(Deposit).where(Deposit.identifier == identifier))
        deposit.status = status
        if status == "failed":  # a planned AIP that was not kept is no AIP of this deposit
            deposit.aip_identifier = None
        for name, value in fields.items():
            setattr(deposit, name, value)


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _gone(worker: str | None) -> bool:
    """Whether the process named "host:pid" has stopped (only knowable on this host)."""
    if not worker:
        return True
    if worker.startswith(CELERY_PREFIX):
        return False  # the workers' own lease and retries settle it (ingest/tasks.py)
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


def reconcile_interrupted_deposits(settings: Settings, catalog) -> int:
    """Settle deposits whose server process has stopped, so each status says what exists.

    A new AIP's identifier is on its deposit before anything is stored (``run_deposit``):
    if the catalogue holds that AIP the deposit is done; if storage holds its complete
    object (root inventory written, catalogue commit lost) the object is registered from
    storage, as `kho storage gc --register` does, and the deposit is done; otherwise
    nothing was kept and the deposit failed (an incomplete object is `kho storage gc`'s).
    Deposits of processes still running, here or on other hosts, are left to them.
    """
    with catalog.session() as session:
        unfinished = [(d.identifier, d.status, d.aip_identifier, d.location)
                      for d in session.scalars(select(Deposit).where(
                          Deposit.status.in_(("received", "validating", "storing"))))
                      if _gone(d.worker)]
    for identifier, status, planned, location in unfinished:
        try:
            aip, version = _kept_aip(settings, catalog, planned, location)
        except Exception:  # noqa: BLE001 - the server must start; gc tells the rest
            log.exception("cannot reconcile AIP %s of deposit %s", planned, identifier)
            aip, version, planned = None, None, None
        if aip:
            set_status(catalog, identifier, "done", aip_identifier=aip, percent=100,
                       message=f"stored as AIP {aip} v{version} (the server stopped before "
                               "the deposit was marked done)")
        elif planned or status in ("received", "validating"):
            set_status(catalog, identifier, "failed",
                       message="interrupted: the server stopped before this deposit was "
                               "stored; nothing was kept, deposit it again")
        else:
            # A new version (its AIP already existed) or a storage location out of reach:
            # whether it was kept is for `kho storage gc` to tell.
            set_status(catalog, identifier, "failed", message=(
                "interrupted: the server stopped before this deposit was finished; deposit "
                "it again, unless `kho storage gc` lists its object as uncatalogued (then "
                "`kho storage gc --register`)"))
    return len(unfinished)


def _kept_aip(settings: Settings, catalog, planned: str | None,
              location: str | None) -> tuple[str | None, int | None]:
    """The planned AIP and its version if the catalogue or storage holds it, else Nones."""
    from repository.catalog.models import Aip
    from repository.catalog.reconcile import register_object
    from repository.storage import OcflStore, get_location
    from repository.storage.aip_layout import ocfl_id_for
    if not planned:
        return None, None

    def catalogued():
        with catalog.session() as session:
            return session.execute(select(Aip.identifier, Aip.current_version).where(
                Aip.identifier == planned)).first() or (None, None)
    aip, version = catalogued()
    if aip:
        return aip, version
    name = location or settings.default_location
    try:
        storage = get_location(settings, name)
        if not OcflStore(storage).exists(ocfl_id_for(planned)):
            return None, None
        register_object(settings, catalog, name, storage, ocfl_id_for(planned))
    except Exception:
        aip, version = catalogued()  # another server process may have registered it meanwhile
        if aip:
            return aip, version
        raise
    return catalogued()


def deposit_summary(deposit: Deposit) -> dict:
    """A deposit as its depositor sees it (no server paths: only the source's file name)."""
    return {"identifier": deposit.identifier, "status": deposit.status,
            "collection": deposit.collection, "source": Path(deposit.source).name,
            "depositor": deposit.depositor, "aip": deposit.aip_identifier,
            "percent": deposit.percent,
            "message": deposit.message, "report": deposit.report,
            "created": deposit.created_at.isoformat(),
            "updated": deposit.updated_at.isoformat()}


def get_deposit(catalog, identifier: str) -> dict:
    with catalog.session() as session:
        deposit = session.scalar(select(Deposit).where(Deposit.identifier == identifier))
        if deposit is None:
            raise NotFound(f"no deposit {identifier!r}")
        return deposit_summary(deposit)


def list_deposits(catalog, *, depositor: str | None = None, status: str | None = None,
                  limit: int = 100, offset: int = 0) -> tuple[list[dict], int]:
    """Deposits, newest first, and how many there are: one depositor's, or everyone's."""
    from sqlalchemy import func
    query = select(Deposit)
    if depositor is not None:
        query = query.where(Deposit.depositor == depositor)
    if status:
        query = query.where(Deposit.status == status)
    with catalog.session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(Deposit.created_at.desc(), Deposit.id.desc())
                               .limit(limit).offset(offset))
        return [deposit_summary(d) for d in rows], total


def _without_paths(text: str, source: Path, settings: Settings, uploaded: bool) -> str:
    """``text`` with server paths taken out: an HTTP client never sees where Kho keeps files."""
    shown = "the upload" if uploaded else Path(source).name
    text = text.replace(str(source), shown)
    if uploaded:  # an upload's own name is Kho's (<deposit id>.zip), not the depositor's
        text = text.replace(Path(source).name, shown)
    for folder in sorted({str(Path(settings.data_dir).resolve()), str(settings.data_dir)},
                         key=len, reverse=True):
        text = text.replace(folder, "…")
    return text


def without_server_paths(text: str, settings: Settings, source: Path) -> str:
    """``text`` with the server's folders taken out: a depositor sees names, never paths."""
    roots = [source, settings.staging_dir, settings.data_dir, settings.drop_folder]
    for root in sorted({str(p) for r in roots if r for p in (Path(r), Path(r).resolve())},
                       key=len, reverse=True):
        text = text.replace(root + "/", "").replace(root, Path(root).name)
    return text


class _StoredBytes:
    """Turns the bytes ingest has stored into the deposit's percentage (called from the
    storing threads, one at a time: the pipeline serialises its progress callback)."""

    def __init__(self, catalog, identifier: str, pause_midway_s: float = 0.0):
        self._catalog, self._identifier = catalog, identifier
        self._total = self._done = self._shown = 0
        self._pause_midway_s = pause_midway_s

    def expect(self, total: int) -> None:
        self._total = total

    def stored(self, count: int) -> None:
        self._done += count
        if self._pause_midway_s and self._done * 2 >= self._total:
            # Test-only (KHO_TEST_PAUSE_MIDWAY): half the bag is in storage, the object is
            # not committed; a test kills the worker here, at a known point of a real ingest.
            pause, self._pause_midway_s = self._pause_midway_s, 0.0
            self.show(STEP_PERCENT["storing"] + 1)
            time.sleep(pause)
        if self._total:
            start, end = STEP_PERCENT["storing"], STEP_PERCENT["registering"]
            self.show(start + (end - start) * min(self._done, self._total) // self._total)

    def show(self, percent: int) -> None:
        if percent >= self._shown + PERCENT_STEP or percent >= STEP_PERCENT["registering"] > \
                self._shown:
            self._shown = percent
            with self._catalog.session() as session:
                session.execute(update(Deposit).where(Deposit.identifier == self._identifier)
                                .values(percent=percent))


def run_deposit(identifier: str, path: Path, *, settings: Settings, catalog,
                remove_after: bool, pause_midway_s: float = 0.0) -> None:
    """Ingest a recorded deposit; every outcome ends in state done or failed, never lost."""
    with catalog.session() as session:
        deposit = session.scalar(select(Deposit).where(Deposit.identifier == identifier))
        params = dict(collection=deposit.collection, access=deposit.access,
                      location=deposit.location, new_version=deposit.new_version,
                      agent=deposit.depositor)
    last = {"state": "received"}
    planned: dict[str, str] = {}
    meter = _StoredBytes(catalog, identifier, pause_midway_s)

    def on_step(step: str) -> None:
        state = STEP_STATES.get(step, last["state"])
        if state != last["state"]:
            last["state"] = state
            # A new AIP's identifier is on the deposit before anything of it is stored:
            # after a kill, reconcile_interrupted_deposits finds what was kept by it.
            set_status(catalog, identifier, state, percent=STEP_PERCENT.get(step, 0), **(
                {"aip_identifier": planned["aip"]} if state == "storing" and planned else {}))
        elif step in STEP_PERCENT:
            meter.show(STEP_PERCENT[step])

    def say(text: str) -> str:
        return without_server_paths(text, settings, path)

    try:
        result = ingest_package(path, settings=settings, catalog=catalog, on_step=on_step,
                                on_new_aip=lambda aip: planned.update(aip=aip),
                                on_total=meter.expect, progress=meter.stored, **params)
    except PackageInvalid as exc:
        set_status(catalog, identifier, "failed", message=say(exc.report.summary or str(exc)),
                   report=json.loads(say(json.dumps(exc.report.as_dict(), ensure_ascii=False))))
    except UnsafeArchive as exc:
        shown = say(_without_paths(exc.path, path, settings, remove_after))
        set_status(catalog, identifier, "failed",
                   message=f"{shown}: {say(_without_paths(exc.message, path, settings, remove_after))}",
                   report={"valid": False, "warnings": [],
                           "errors": [{"code": exc.code, "path": shown,
                                       "message": say(_without_paths(exc.message, path,
                                                                     settings, remove_after))}]})
    except UnreadableArchive as exc:
        set_status(catalog, identifier, "failed", message=(
            f"the upload is not a {exc.kind} archive (did you send it with --data-binary? "
            "curl's -d and --data change the bytes)" if remove_after else
            f"{Path(exc.path).name} is not a readable {exc.kind} archive"))
    except KhoError as exc:
        set_status(catalog, identifier, "failed",
                   message=say(_without_paths(exc.http_message(), path, settings,
                                              remove_after)))
    except Exception as exc:  # noqa: BLE001 - the depositor must see a final state
        log.exception("deposit %s failed", identifier)  # the details go to the log only
        set_status(catalog, identifier, "failed",
                   message=f"internal error ({type(exc).__name__}); the server log has details")
        raise
    else:
        set_status(catalog, identifier, "done", aip_identifier=result.identifier, percent=100,
                   message=f"stored as AIP {result.identifier} v{result.version}")
    finally:
        if remove_after:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                discard_upload(path)


# -- deposits on workers: a lease per deposit, and what an interrupted attempt left ----------

def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # SQLite's


def claim_deposit(catalog, identifier: str, holder: str, lease_s: float) -> str:
    """Take the deposit for ``holder`` (a worker process): "mine", "busy" while another
    holder's lease is fresh, "finished" (done or failed) or "missing".

    The take-over is one conditional UPDATE on the row as it was read, so of two workers
    that find the same lapsed lease only one gets it.
    """
    with catalog.session() as session:
        row = session.execute(select(Deposit.status, Deposit.worker, Deposit.updated_at).where(
            Deposit.identifier == identifier)).first()
        if row is None:
            return "missing"
        status, worker, updated = row
        if status in ("done", "failed"):
            return "finished"
        age = (datetime.now(timezone.utc) - _aware(updated)).total_seconds()
        if worker not in (None, QUEUED, holder) and age < lease_s:
            return "busy"
        taken = session.execute(update(Deposit).where(
            Deposit.identifier == identifier, Deposit.worker.is_(None) if worker is None
            else Deposit.worker == worker, Deposit.updated_at == updated).values(
            worker=holder, updated_at=datetime.now(timezone.utc)))
        return "mine" if taken.rowcount == 1 else "busy"


def renew_lease(catalog, identifier: str, holder: str) -> bool:
    """The holder's heartbeat; False once the deposit is no longer its own."""
    with catalog.session() as session:
        renewed = session.execute(update(Deposit).where(
            Deposit.identifier == identifier, Deposit.worker == holder).values(
            updated_at=datetime.now(timezone.utc)))
        return renewed.rowcount == 1


def settle_interrupted_attempt(settings: Settings, catalog, identifier: str) -> str | None:
    """Before a deposit runs again after its worker died: the AIP the last attempt kept
    (catalogued, or complete in storage and registered from it now), else None, having
    removed the incomplete object it left (invisible to readers: no root inventory).

    A new version's unfinished version folder is removed by the next attempt's
    ``add_version`` itself (or by `kho storage gc`).
    """
    from repository.storage import OcflStore, get_location
    from repository.storage.aip_layout import ocfl_id_for
    with catalog.session() as session:
        planned, location = session.execute(
            select(Deposit.aip_identifier, Deposit.location).where(
                Deposit.identifier == identifier)).one()
    if not planned:
        return None
    aip, version = _kept_aip(settings, catalog, planned, location)
    if aip:
        return f"{aip} v{version}"
    store = OcflStore(get_location(settings, location or settings.default_location))
    ocfl_id = ocfl_id_for(planned)
    if not store.exists(ocfl_id):
        removed = store.storage.delete_prefix(f"{store.object_root(ocfl_id)}/")
        if removed:
            log.info("deposit %s: removed %d files of the incomplete AIP %s its last attempt "
                     "left", identifier, removed, planned)
    with catalog.session() as session:
        session.execute(update(Deposit).where(Deposit.identifier == identifier)
                        .values(aip_identifier=None))
    return None
