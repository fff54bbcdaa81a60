"""Image ids to page images in AIPs: ``<aip identifier>~<first 32 hex of the file's sha512>``.

An image id names content, not a path or a version: it stays the same in every version
that keeps the file, so links and annotations made on v1 still work on v2. Only files of
the AIP's current version are served (a page withdrawn in a later version is gone).
Originals on S3 are streamed once into a local cache (``DERIVATIVES_DIR/originals``),
verified against their sha512, and only when the page's derivative is not built yet.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import tempfile
from datetime import date
from pathlib import Path

from sqlalchemy import select

from repository.access.derivatives import ImageSource, derivative_path
from repository.access.rights import PUBLIC, check_read_access, effective_policy
from repository.catalog import AipFile, get_aip
from repository.config import Settings
from repository.errors import DigestMismatch, NotFound
from repository.storage import get_location
from repository.storage.local import LocalStorage

SEPARATOR = "~"
DIGEST_PREFIX_LENGTH = 32
_DIGEST_PREFIX = re.compile(r"^[0-9a-f]{32}$")


def image_id(aip_identifier: str, sha512: str) -> str:
    """The IIIF image id of a file of an AIP."""
    return f"{aip_identifier}{SEPARATOR}{sha512[:DIGEST_PREFIX_LENGTH].lower()}"


def parse_image_id(text: str) -> tuple[str, str]:
    """(AIP identifier, digest prefix) of an image id; NotFound when it is not one."""
    aip_identifier, sep, prefix = text.rpartition(SEPARATOR)
    if not sep or not aip_identifier or not _DIGEST_PREFIX.match(prefix):
        raise NotFound(f"{text!r} is not a Kho image id (<aip>~<32 hex of the sha512>)")
    return aip_identifier, prefix


class ImageResolver:
    """``resolve(image_id, user)`` → :class:`ImageSource`, checking the user's read access."""

    def __init__(self, settings: Settings, catalog):
        self.settings = settings
        self.catalog = catalog
        self._locations: dict[str, object] = {}

    def resolve(self, image_id_text: str, user, *, today: date | None = None) -> ImageSource:
        aip_identifier, prefix = parse_image_id(image_id_text)
        today = today or date.today()
        with self.catalog.session() as session:
            aip = get_aip(session, aip_identifier)
            check_read_access(aip, user, today=today, public_read=self.settings.public_read)
            item = session.scalar(
                select(AipFile).where(AipFile.aip_id == aip.id,
                                      AipFile.version == aip.current_version,
                                      AipFile.role == "payload",
                                      AipFile.sha512.like(f"{prefix}%"))
                .limit(1))
            if item is None:
                raise NotFound(f"AIP {aip_identifier} has no image {prefix} in its current version")
            public = effective_policy(aip, today) == PUBLIC and self.settings.public_read
            location, key, sha512 = aip.location, f"{aip.object_root}/{item.content_path}", item.sha512
        return self.source_for(location, key, sha512, public=public)

    def source_for(self, location: str, key: str, sha512: str, *, public: bool) -> ImageSource:
        """The original of a stored file as a local path (local storage: in place)."""
        storage = self._location(location)
        if isinstance(storage, LocalStorage):
            return ImageSource(storage.root.joinpath(*key.split("/")), sha512, None, public, sha512)
        cached = Path(self.settings.derivatives_dir) / "originals" / sha512[:2] / sha512
        # Fetched originals are verified while downloading; no second hash before the build.
        source = ImageSource(cached, sha512, None, public)
        # The derivative is all the Image service reads once it exists: skip the download.
        if not cached.exists() and not derivative_path(source, self.settings).exists():
            fetch_original(storage, key, sha512, cached)
        return source

    def _location(self, name: str):
        storage = self._locations.get(name)
        if storage is None:
            storage = self._locations[name] = get_location(self.settings, name)
        return storage


def fetch_original(storage, key: str, sha512: str, target: Path) -> Path:
    """Stream ``key`` into ``target``, hashing while copying; renamed into place only if it matches."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one download per file, across threads and workers
        if target.exists():
            return target
        fd, temp = tempfile.mkstemp(prefix=".fetching-", dir=target.parent)
        try:
            digest = hashlib.sha512()
            with os.fdopen(fd, "wb") as out:
                for chunk in storage.iter_chunks(key):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != sha512:
                raise DigestMismatch(key, "sha512", sha512, digest.hexdigest())
            os.replace(temp, target)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)
    return target
