"""Deposits over HTTP: a streamed upload or a drop-folder path in, a status URL out."""
from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from flask import Blueprint, Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from repository.access.rights import parse_access
from repository.catalog.collections import require_collection
from repository.catalog.queries import MAX_PER_PAGE
from repository.errors import NotFound, UsageError
from repository.ingest.deposits import (create_deposit, discard_upload, drop_folder_path,
                                        reconcile_interrupted_deposits, get_deposit, list_deposits,
                                        run_deposit, upload_path)
from repository.ingest.models import DEPOSIT_STATES
from repository.ingest.staging import clean_staging
from repository.storage import get_location
from repository.text import after_ingest
from repository.web.auth import current_user, require_roles
from repository.web.inputs import MAX_NAME, flag, json_object, paging, text

blueprint = Blueprint("deposit", __name__, url_prefix="/api/v1/deposits")

ARCHIVE_TYPES = {"application/zip": ".zip", "application/x-tar": ".tar",
                 "application/gzip": ".tar.gz", "application/x-gzip": ".tar.gz",
                 "application/x-gtar": ".tar.gz"}
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
CHUNK = 1024 * 1024


def init_app(app: Flask) -> None:
    services = app.extensions["kho"]
    # Deposits run in server processes: those left unfinished by one that stopped are settled
    # by what was kept (done with their AIP, or failed).
    if app.config.get("KHO_DATABASE_READY"):
        reconcile_interrupted_deposits(services.settings, services.catalog)
        # What a crash left in staging (partial uploads, unpack folders) goes now.
        clean_staging(services.settings, services.catalog)
    # One ingest at a time per process: ingest already uses every core for hashing.
    services.extras["deposit_executor"] = ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="kho-deposit")
    # The text of a stored AIP's pages (transcriptions, OCR) is read on a thread of its own,
    # so a long book's OCR never holds up the next deposit.
    services.extras["text_executor"] = ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="kho-text")


def on_workers(settings) -> bool:
    """Whether deposits go to `kho worker` (KHO_INGEST_EXECUTOR=celery) instead of a thread."""
    return settings.ingest_executor == "celery"


def require_deposit_runner(settings) -> None:
    """Before anything is received: with deposits on workers, one must answer now
    (503 with a message otherwise), or the deposit would wait unseen in the queue."""
    if on_workers(settings):
        from repository.ingest.tasks import require_ingest_workers
        require_ingest_workers(settings)


def start_deposit(deposit_id: str, source: Path, *, remove_after: bool) -> None:
    """Run a recorded deposit (every door that deposits: the API, the archivists' form): on
    the deposit thread, the text of its pages following on a thread of its own; or, with
    KHO_INGEST_EXECUTOR=celery, on whichever worker takes it from the ingest queue."""
    services = current_app.extensions["kho"]
    if on_workers(services.settings):
        _send_to_workers(services.settings, services.catalog, deposit_id, source,
                         remove_after=remove_after)
        return
    services.extras["deposit_executor"].submit(
        _deposit_then_text, deposit_id, source, settings=services.settings,
        catalog=services.catalog, remove_after=remove_after,
        text_executor=services.extras["text_executor"])


def _send_to_workers(settings, catalog, deposit_id: str, source: Path, *,
                     remove_after: bool) -> None:
    from repository.errors import WorkersUnavailable
    from repository.ingest.deposits import set_status
    from repository.ingest.tasks import enqueue_deposit
    try:
        enqueue_deposit(settings, deposit_id, source, remove_after=remove_after)
    except Exception as exc:  # the broker went away between the ping and the send
        set_status(catalog, deposit_id, "failed",
                   message="the deposit could not be sent to the workers; deposit it again")
        if remove_after:
            discard_upload(source)
        raise WorkersUnavailable(f"cannot send the deposit to the workers' queue: {exc}") from exc


def _deposit_then_text(deposit_id: str, source: Path, *, settings, catalog, remove_after: bool,
                       text_executor: ThreadPoolExecutor) -> None:
    run_deposit(deposit_id, source, settings=settings, catalog=catalog, remove_after=remove_after)
    aip = get_deposit(catalog, deposit_id).get("aip")
    if aip:
        text_executor.submit(_text_of_pages, settings, catalog, aip)


def _text_of_pages(settings, catalog, aip: str) -> None:
    try:
        after_ingest(settings, catalog, aip)
    except Exception:  # noqa: BLE001 - the deposit is done; the run's own record says why
        logging.getLogger(__name__).exception("text of the pages of AIP %s", aip)


@blueprint.post("")
@require_roles("archivist")
def deposit():
    """Accept a zip/tar body (streamed to staging) or {"path": …} in the drop folder: 202.

    Every option is checked before anything is received or recorded: a deposit that
    could only fail later (no collection, a bad access, an unknown location) is refused now.
    """
    services = current_app.extensions["kho"]
    settings = services.settings
    deposit_id = str(uuid.uuid4())
    if request.mimetype == "application/json":
        params = json_object()
        relative = text(params.get("path"), "path", required=True, max_length=1000)
    else:
        params = request.args
    collection = text(params.get("collection"), "collection", max_length=MAX_NAME)
    if not collection:
        raise UsageError("a deposit needs a collection (?collection=NAME or \"collection\")")
    access = text(params.get("access"), "access") or None
    if access is not None:
        parse_access(access)  # raises a 400 that names the forms allowed
    require_deposit_runner(settings)
    location = text(params.get("location"), "location", max_length=MAX_NAME) or None
    if location is not None:
        try:
            get_location(settings, location)
        except NotFound:
            raise UsageError(f"location: there is no storage location {location!r}") from None
    new_version = flag(params.get("new_version"), "new_version")
    # Refused before a byte is received: a typo must not cost the depositor an upload.
    with services.catalog.session() as session:
        collection = require_collection(session, collection).name
    if request.mimetype == "application/json":
        source, remove_after = drop_folder_path(settings, relative), False
    else:
        source, remove_after = _receive_upload(settings, deposit_id), True
    create_deposit(services.catalog, source=str(source), collection=collection,
                   depositor=current_user().name, access=access, location=location,
                   new_version=new_version, identifier=deposit_id, queued=on_workers(settings))
    start_deposit(deposit_id, source, remove_after=remove_after)
    url = f"/api/v1/deposits/{deposit_id}"
    return {"identifier": deposit_id, "status": "received", "url": url}, 202, {"Location": url}


@blueprint.get("")
@require_roles("archivist")
def deposits():
    """Deposits, newest first: an archivist sees their own, an admin everyone's."""
    user = current_user()
    page, per_page = paging(50, MAX_PER_PAGE)
    status = request.args.get("status")
    if status is not None and status not in DEPOSIT_STATES:
        raise UsageError(f"status must be one of {', '.join(DEPOSIT_STATES)}")
    items, total = list_deposits(current_app.extensions["kho"].catalog,
                                 depositor=None if user.role == "admin" else user.name,
                                 status=status, limit=per_page, offset=(page - 1) * per_page)
    return {"deposits": [{**d, "url": f"/api/v1/deposits/{d['identifier']}"} for d in items],
            "page": page, "per_page": per_page, "total": total}


def _upload_name() -> str:
    """The ?filename= of an upload: a plain file name ending in an archive suffix, or ""."""
    name = text(request.args.get("filename"), "filename", max_length=MAX_NAME)
    if not name:
        return ""
    if "/" in name or "\\" in name or name in (".", ".."):
        raise UsageError("filename must be a file name, not a path")
    if not name.lower().endswith(ARCHIVE_SUFFIXES):
        raise UsageError(f"filename {name!r} must end in {', '.join(ARCHIVE_SUFFIXES)}")
    return name


def _receive_upload(settings, deposit_id: str) -> Path:
    """Stream the request body to staging, refusing (413) past the configured cap."""
    cap = settings.max_upload_bytes
    if request.content_length is not None and request.content_length > cap:
        raise RequestEntityTooLarge(f"deposits are limited to {cap} bytes")
    filename = _upload_name()
    suffix = ARCHIVE_TYPES.get(request.mimetype)
    if filename:
        suffix = None
    elif suffix is None:
        raise UsageError("send the bag as application/zip, application/x-tar or "
                         "application/gzip, or give ?filename=NAME.zip|.tar|.tar.gz|.tgz")
    target = upload_path(settings, deposit_id, filename or f"upload{suffix}")
    received = 0
    try:
        with open(target, "wb") as out:
            while chunk := request.stream.read(CHUNK):
                received += len(chunk)
                if received > cap:
                    raise RequestEntityTooLarge(f"deposits are limited to {cap} bytes")
                out.write(chunk)
    except BaseException:
        discard_upload(target)
        raise
    if received == 0:
        discard_upload(target)
        raise UsageError("the request body is empty: send the bag archive as the body")
    return target


@blueprint.get("/<identifier>")
@require_roles("archivist")
def deposit_status(identifier: str):
    """One deposit's status: its depositor's or, for an admin, anyone's (404 otherwise)."""
    found = get_deposit(current_app.extensions["kho"].catalog, identifier)
    user = current_user()
    if user.role != "admin" and found["depositor"] != user.name:
        raise NotFound(f"no deposit {identifier!r}")
    return found
