"""The one storage interface that local folders and S3 buckets both implement.

Keys are '/'-separated relative paths (OCFL paths inside the location). Everything large
moves as a stream of chunks; a put hashes while it writes and checks expected digests
before the object becomes visible under its key.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Iterator, Mapping

CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True)
class ObjectInfo:
    """What `head` knows of a stored object."""

    key: str
    size: int
    etag: str
    last_modified: datetime


@dataclass(frozen=True)
class PutResult:
    """What was written: the size and the digests computed while writing."""

    key: str
    size: int
    digests: Mapping[str, str]  # algorithm name (hashlib spelling, e.g. "sha512") -> hex


class Storage(abc.ABC):
    """A storage location: put, get (with ranges), head, list, copy, delete."""

    name: str
    kind: str  # "local" or "s3"

    @abc.abstractmethod
    def put(self, key: str, stream: BinaryIO, *, size: int | None = None,
            algorithms: tuple[str, ...] = ("sha512",),
            expected: Mapping[str, str] | None = None, durable: bool = True) -> PutResult:
        """Stream ``stream`` to ``key``, hashing with ``algorithms`` in the same pass.

        If any ``expected`` digest differs, nothing is left under ``key`` and
        :class:`~repository.errors.DigestMismatch` is raised. ``durable=False`` lets the
        bytes reach stable storage later, at the next :meth:`sync`.
        """

    def adopt(self, key: str, path: Path, *, size: int, digests: Mapping[str, str],
              expected: Mapping[str, str] | None = None) -> PutResult | None:
        """Move the file at ``path`` (Kho's own staged copy, hashed as it was written) to
        ``key`` without reading it again; None when this location cannot (the caller copies).

        ``expected`` digests are compared with ``digests`` first: on a mismatch nothing is
        left under ``key`` and :class:`~repository.errors.DigestMismatch` is raised.
        """
        return None

    @abc.abstractmethod
    def open(self, key: str, *, start: int | None = None, end: int | None = None) -> BinaryIO:
        """A readable stream of the object, or of bytes ``start``..``end`` inclusive."""

    def iter_chunks(self, key: str, *, start: int | None = None, end: int | None = None,
                    chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The object (or a byte range of it) as chunks; closes the stream at the end."""
        with self.open(key, start=start, end=end) as stream:
            while chunk := stream.read(chunk_size):
                yield chunk

    @abc.abstractmethod
    def head(self, key: str) -> ObjectInfo:
        """Size, etag and time of ``key``; raises NotFound if absent."""

    def exists(self, key: str) -> bool:
        from repository.errors import NotFound
        try:
            self.head(key)
            return True
        except NotFound:
            return False

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Every key under ``prefix``, in no promised order."""

    @abc.abstractmethod
    def copy(self, source_key: str, dest_key: str) -> None:
        """Copy one object to another key in this location."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; absent keys are not an error."""

    def list_info(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Like `list`, with size and time of each key (one listing where the kind allows)."""
        for key in self.list(prefix):
            yield self.head(key)

    def delete_prefix(self, prefix: str) -> int:
        """Remove every key under ``prefix``; returns how many."""
        keys = list(self.list(prefix))
        for key in keys:
            self.delete(key)
        return len(keys)

    def describe(self) -> str:
        """Where the location keeps its objects, for people (a folder, an s3:// URL)."""
        return self.name

    def sync(self) -> None:
        """Make every earlier ``durable=False`` put durable (S3: already is, on completion)."""

    @abc.abstractmethod
    def check_reachable(self) -> None:
        """Raise StorageUnavailable with the reason if the location cannot be used now."""


def check_key(key: str, *, prefix: bool = False) -> str:
    """``key`` NFC-normalised, or StorageError if it is absolute, empty or has '.'/'..'/empty parts.

    With ``prefix=True`` an empty string and a trailing '/' are allowed (list/delete_prefix).
    """
    import unicodedata
    from repository.errors import StorageError

    key = unicodedata.normalize("NFC", key)
    if prefix:
        if key == "":
            return key
        body = key[:-1] if key.endswith("/") else key
    else:
        body = key
    if not body or body.startswith("/") or "\\" in body or "\0" in body:
        raise StorageError(f"unsafe storage key {key!r}")
    if any(part in ("", ".", "..") for part in body.split("/")):
        raise StorageError(f"unsafe storage key {key!r}")
    return key
