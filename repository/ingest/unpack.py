"""Unpack a bag archive (.zip, .tar, .tar.gz, .tgz) into a private staging folder, safely.

Refused: absolute paths, '..', links, devices and FIFOs, duplicate names, and archives
past the caps on entries, bytes and compression ratio. Bytes are counted while they are
written, so a zip bomb stops at the cap whatever its headers claim.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator

from repository.errors import UnsafeArchive, UsageError
from repository.ingest.staging import UNPACK_PREFIX, held

CHUNK = 1024 * 1024
# Ratios are only judged past this many bytes: small text files compress very well.
RATIO_FLOOR = 1024 * 1024
SERIALIZATIONS = {".zip": "application/zip", ".tar": "application/x-tar",
                  ".tar.gz": "application/gzip", ".tgz": "application/gzip"}


def archive_kind(path: Path) -> str | None:
    """'.zip', '.tar', '.tar.gz' or '.tgz' from the name, or None for anything else."""
    name = path.name.lower()
    for suffix in (".tar.gz", ".tgz", ".tar", ".zip"):
        if name.endswith(suffix):
            return suffix
    return None


def serialization_of(path: Path) -> str | None:
    """The MIME type of a serialised bag (BagIt-Profile `Accept-Serialization`), None for a folder."""
    kind = archive_kind(Path(path)) if not Path(path).is_dir() else None
    return SERIALIZATIONS.get(kind) if kind else None


def _safe_name(name: str, archive: str) -> list[str]:
    """The parts of an entry name, or UnsafeArchive if it would leave staging."""
    if "\x00" in name:
        raise UnsafeArchive(archive, f"entry '{name!r}' contains a NUL byte", "K701")
    clean = name.replace("\\", "/")
    if clean.startswith("/") or re.match(r"^[A-Za-z]:", clean):
        raise UnsafeArchive(archive, f"entry '{name}' has an absolute path", "K701")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(archive, f"entry '{name}' uses '..' to leave the archive", "K701")
    return parts


class _Extractor:
    """Writes entries under a staging folder, counting entries and bytes against the caps."""

    def __init__(self, archive: Path, staging: Path, settings):
        self.archive, self.staging = archive, staging
        self.label = archive.name
        self.max_entries = settings.unpack_max_entries
        self.max_bytes = settings.unpack_max_bytes
        self.max_ratio = settings.unpack_max_ratio
        self.packed = max(archive.stat().st_size, 1)
        self.entries = 0
        self.total = 0

    def count_entry(self) -> None:
        self.entries += 1
        if self.entries > self.max_entries:
            raise UnsafeArchive(self.label, f"holds more than {self.max_entries} entries", "K703")

    def target(self, name: str) -> Path | None:
        parts = _safe_name(name, self.label)
        return self.staging.joinpath(*parts) if parts else None

    def directory(self, name: str) -> None:
        target = self.target(name)
        if target is not None:
            target.mkdir(parents=True, exist_ok=True)

    def file(self, name: str, source, packed_size: int | None) -> None:
        target = self.target(name)
        if target is None:
            raise UnsafeArchive(self.label, f"entry '{name}' has no name", "K701")
        target.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(target, flags, 0o600)
        except FileExistsError:
            raise UnsafeArchive(self.label, f"entry '{name}' appears twice", "K702") from None
        written = 0
        with open(fd, "wb") as out:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                self.total += len(chunk)
                if self.total > self.max_bytes:
                    raise UnsafeArchive(self.label,
                                        f"unpacks to more than {self.max_bytes} bytes", "K704")
                if packed_size is not None and written > RATIO_FLOOR \
                        and written > self.max_ratio * max(packed_size, 1):
                    raise UnsafeArchive(self.label, f"entry '{name}' expands more than "
                                        f"{self.max_ratio:g} times (a zip bomb?)", "K705")
                if self.total > RATIO_FLOOR and self.total > self.max_ratio * self.packed:
                    raise UnsafeArchive(self.label, f"expands more than {self.max_ratio:g} "
                                        "times its size (a zip bomb?)", "K705")
                out.write(chunk)


def _unzip(ex: _Extractor) -> None:
    try:
        zf = zipfile.ZipFile(ex.archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UsageError(f"{ex.archive}: not a readable zip archive ({exc})") from None
    with zf:
        for info in zf.infolist():
            ex.count_entry()
            # Unix mode in the high 16 bits; type bits 0 means "not said" (Windows, writestr).
            mode = info.external_attr >> 16
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
                raise UnsafeArchive(ex.label, f"entry '{info.filename}' is {kind}", "K706")
            if info.is_dir():
                try:
                    ex.directory(info.filename)
                except OSError as exc:
                    raise UnsafeArchive(ex.label, f"entry '{info.filename}' cannot be made "
                                        f"({exc.strerror})", "K707") from None
                continue
            try:
                with zf.open(info) as source:
                    ex.file(info.filename, source, info.compress_size)
            except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError,
                    OSError) as exc:
                raise UnsafeArchive(ex.label, f"entry '{info.filename}' cannot be read "
                                    f"({exc})", "K707") from None


def _untar(ex: _Extractor) -> None:
    try:
        tf = tarfile.open(ex.archive, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise UsageError(f"{ex.archive}: not a readable tar archive ({exc})") from None
    with tf:
        try:
            for member in tf:
                ex.count_entry()
                if member.isdir():
                    ex.directory(member.name)
                elif member.isreg():
                    source = tf.extractfile(member)
                    ex.file(member.name, source, None)
                else:
                    kind = ("a symbolic link" if member.issym() else
                            "a hard link" if member.islnk() else
                            "a device file" if member.isdev() else "not a regular file")
                    raise UnsafeArchive(ex.label, f"entry '{member.name}' is {kind}", "K706")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise UnsafeArchive(ex.label, f"the archive cannot be read ({exc})", "K707") from None


def find_bag_root(top: Path) -> Path:
    """The bag inside an unpacked archive: the top if bagit.txt is there, else its one folder."""
    if (top / "bagit.txt").is_file():
        return top
    children = [c for c in top.iterdir() if c.name != "__MACOSX"]
    if len(children) == 1 and children[0].is_dir():
        return children[0]
    return top


@contextlib.contextmanager
def unpacked(path: Path, settings) -> Iterator[Path]:
    """Yield the bag root: a folder as is, an archive unpacked into staging (removed after)."""
    path = Path(path)
    if path.is_dir():
        yield path
        return
    if not path.is_file():
        raise UsageError(f"{path}: no such file or folder")
    kind = archive_kind(path)
    if kind is None:
        raise UsageError(f"{path}: not a bag folder, .zip, .tar, .tar.gz or .tgz")
    settings.staging_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=UNPACK_PREFIX, dir=settings.staging_dir))  # 0700
    try:
        # Held while in use: after a crash, clean_staging knows the folder is nobody's.
        with held(staging):
            ex = _Extractor(path, staging, settings)
            (_unzip if kind == ".zip" else _untar)(ex)
            yield find_bag_root(staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
