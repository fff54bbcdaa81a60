"""The staging folder after a crash: what no living process uses any more is removed.

Staging holds two kinds of things (KHO_DATA_DIR/staging):
- ``unpack-*/`` folders, one per archive being unpacked; the process using one holds an
  exclusive ``flock`` on the folder, which the kernel drops when that process dies, so a
  folder whose lock can be taken belongs to nobody;
- ``uploads/<deposit-id>.<suffix>``, a deposited archive waiting for or going through
  ingest; it is needed only while its deposit is unfinished (received, validating,
  storing). Deposits of server processes that died are failed at start first
  (deposits.reconcile_interrupted_deposits), so their uploads become removable too.

``clean_staging`` runs when the web app starts and in ``kho storage gc``.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Iterator

from repository.config import Settings

UNPACK_PREFIX = "unpack-"
UNFINISHED = ("received", "validating", "storing")
# An upload is written before its deposit row: give the row time to appear.
UPLOAD_GRACE_S = 600
UNPACK_GRACE_S = 60
log = logging.getLogger(__name__)


@contextlib.contextmanager
def held(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s staging lock while the block runs (released if the process dies)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _abandoned(folder: Path) -> bool:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # a living process unpacks into it
    finally:
        os.close(fd)
    return True


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def clean_staging(settings: Settings, catalog, *, dry_run: bool = False) -> list[tuple[Path, int]]:
    """Remove abandoned unpack folders and uploads of finished or unknown deposits.

    Returns (path, bytes) of each item removed (or that would be, with ``dry_run``).
    """
    from sqlalchemy import select  # here: `kho validate` imports this module, not SQL

    from repository.ingest.models import Deposit
    staging = settings.staging_dir
    if not staging.is_dir():
        return []
    now = time.time()
    # A folder is locked a moment after it is made: leave the newest alone.
    removable: list[Path] = [p for p in staging.iterdir()
                             if p.is_dir() and p.name.startswith(UNPACK_PREFIX)
                             and now - p.stat().st_mtime > UNPACK_GRACE_S and _abandoned(p)]
    uploads = staging / "uploads"
    if uploads.is_dir():
        with catalog.session() as session:
            busy = set(session.scalars(select(Deposit.identifier).where(
                Deposit.status.in_(UNFINISHED))))
        for item in uploads.iterdir():
            deposit_id = item.name.split(".", 1)[0]
            if deposit_id in busy or now - item.stat().st_mtime < UPLOAD_GRACE_S:
                continue
            removable.append(item)
    removed = []
    for path in removable:
        size = _size(path)
        if not dry_run:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        removed.append((path, size))
    if removed and not dry_run:
        log.info("staging: removed %d abandoned item(s), %d bytes", len(removed),
                 sum(size for _, size in removed))
    return removed
