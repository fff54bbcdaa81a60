"""Unpack a bag archive (.zip, .tar, .tar.gz, .tgz) into a private staging folder, safely.

Refused: absolute paths, '..', links, devices and FIFOs, duplicate names, and archives
past the caps on entries, bytes and compression ratio. Bytes are counted while they are
written, so a zip bomb stops at the cap whatever its headers claim.

Entry names are read the way archivists' tools wrote them (see :func:`entry_name`): many
zips hold UTF-8 names without saying so, and older Windows tools wrote the code page of
the machine (for Vietnamese Windows, cp1258).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass, field
import re
import shutil
import stat
import tarfile
import struct
import tempfile
import unicodedata
import zipfile
import zlib
from pathlib import Path
from typing import Iterator

from repository.errors import UnreadableArchive, UnsafeArchive, UsageError
from repository.ingest.staging import UNPACK_PREFIX, held

# Digests computed while unpacking, so a staged file can move into storage without being
# read again: sha512 for OCFL and sha256 for fixity (storage.digests.CHECK_ALGORITHM, named
# here without importing the storage room, for `kho validate`'s start-up), plus the
# algorithms of the bag's manifests when the archive names them up front (a zip's central
# directory); a tar is read in one pass, so the most common manifest algorithm is guessed,
# and a file lacking one is hashed again at store time.
STAGING_ALGORITHMS = ("sha512", "sha256")
TAR_GUESSED_ALGORITHMS = ("sha512", "sha256")
_MANIFEST_NAME = re.compile(r"^(?:[^/]+/)?(?:tag)?manifest-([A-Za-z0-9-]+)\.txt$")

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


# APPNOTE.TXT 4.4.4: general purpose bit 11 says the name is UTF-8.
ZIP_UTF8_FLAG = 0x800
# APPNOTE.TXT 4.6.9: Info-ZIP Unicode Path Extra Field (0x7075): version, CRC-32 of the
# header's name, then the name in UTF-8.
UNICODE_PATH_EXTRA = 0x7075


def _printable(raw: bytes) -> str:
    """Undecodable name bytes, shown safely: ASCII as is, other bytes as backslash escapes."""
    return raw.decode("ascii", "backslashreplace")


def entry_name(raw: bytes, *, archive: str, legacy: str, flagged_utf8: bool = False) -> str:
    """An entry name from its bytes: UTF-8 when flagged or valid as UTF-8, else ``legacy``.

    UTF-8 is tried first because a legacy (single-byte) reading of UTF-8 bytes always
    "succeeds" with garbage (``bìa`` → ``b├¼a``), while legacy bytes are almost never valid
    UTF-8. A name that is neither is refused, naming the entry and the problem.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if flagged_utf8:
            raise UnsafeArchive(archive, f"entry '{_printable(raw)}' is marked as UTF-8 but "
                                "its name is not valid UTF-8", "K708") from None
    try:
        # cp1258 writes Vietnamese tones as combining marks: NFC makes them one letter again.
        return unicodedata.normalize("NFC", raw.decode(legacy))
    except (UnicodeDecodeError, LookupError):
        raise UnsafeArchive(
            archive, f"entry '{_printable(raw)}' has a name that is neither UTF-8 nor "
            f"{legacy} (KHO_ARCHIVE_NAME_ENCODING); re-make the archive with UTF-8 names "
            "(e.g. 7-Zip, or `zip` on a UTF-8 system)", "K708") from None


def _zip_unicode_path(info: zipfile.ZipInfo, raw: bytes) -> str | None:
    """The UTF-8 name from an Info-ZIP Unicode Path extra field, if it matches the name."""
    extra, at = info.extra, 0
    while at + 4 <= len(extra):
        kind, size = struct.unpack("<HH", extra[at:at + 4])
        body = extra[at + 4:at + 4 + size]
        at += 4 + size
        if kind == UNICODE_PATH_EXTRA and len(body) >= 5 and body[0] == 1:
            crc = struct.unpack("<L", body[1:5])[0]
            if crc == zlib.crc32(raw):  # stale if the name was changed by another tool
                try:
                    return body[5:].decode("utf-8")
                except UnicodeDecodeError:
                    return None
    return None


def zip_entry_name(info: zipfile.ZipInfo, *, archive: str, legacy: str) -> str:
    """An entry's name as its maker meant it (zipfile reads unflagged names as cp437)."""
    if info.flag_bits & ZIP_UTF8_FLAG:
        return info.orig_filename
    raw = info.orig_filename.encode("cp437")  # zipfile's cp437 reading is lossless
    return _zip_unicode_path(info, raw) or entry_name(raw, archive=archive, legacy=legacy)


def tar_entry_name(name: str, *, archive: str, legacy: str) -> str:
    """A tar member's name (read as UTF-8 with surrogateescape) as its maker meant it."""
    raw = name.encode("utf-8", "surrogateescape")
    return entry_name(raw, archive=archive, legacy=legacy)


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

    def __init__(self, archive: Path, staging: Path, settings,
                 algorithms: tuple[str, ...] = STAGING_ALGORITHMS):
        self.archive, self.staging = archive, staging
        self.algorithms = algorithms
        # staged path -> (size, {algorithm: hex digest}), computed while writing it
        self.digests: dict[Path, tuple[int, dict[str, str]]] = {}
        self.label = archive.name
        self.max_entries = settings.unpack_max_entries
        self.max_bytes = settings.unpack_max_bytes
        self.max_ratio = settings.unpack_max_ratio
        self.legacy_encoding = settings.archive_name_encoding
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
        # hashlib directly: importing the storage room here would load boto3 for `kho validate`.
        hashers = {name: hashlib.new(name) for name in self.algorithms}
        with open(fd, "wb") as out:
            while chunk := source.read(CHUNK):
                for hasher in hashers.values():
                    hasher.update(chunk)
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
        self.digests[target] = (written, {n: h.hexdigest() for n, h in hashers.items()})


def _manifest_algorithms(names: list[str]) -> tuple[str, ...]:
    """STAGING_ALGORITHMS plus the algorithm of every (tag) manifest among an archive's
    entry names."""
    found = list(STAGING_ALGORITHMS)
    for name in names:
        match = _MANIFEST_NAME.match(name.replace("\\", "/").lstrip("./"))
        # An algorithm hashlib lacks is validation's to report, not unpacking's.
        if match and match.group(1).lower() in hashlib.algorithms_available:
            found.append(match.group(1).lower())
    return tuple(dict.fromkeys(found))


def _unzip(ex: _Extractor) -> None:
    try:
        zf = zipfile.ZipFile(ex.archive)
    except UnicodeDecodeError as exc:  # zipfile decodes flagged names as it opens the zip
        raise UnsafeArchive(ex.label, f"entry '{_printable(exc.object)}' is marked as UTF-8 "
                            "but its name is not valid UTF-8", "K708") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnreadableArchive(str(ex.archive), "zip", str(exc)) from None
    with zf:
        ex.algorithms = _manifest_algorithms([info.filename for info in zf.infolist()])
        for info in zf.infolist():
            ex.count_entry()
            name = zip_entry_name(info, archive=ex.label, legacy=ex.legacy_encoding)
            # Unix mode in the high 16 bits; type bits 0 means "not said" (Windows, writestr).
            mode = info.external_attr >> 16
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
                raise UnsafeArchive(ex.label, f"entry '{name}' is {kind}", "K706")
            if info.is_dir():
                try:
                    ex.directory(name)
                except OSError as exc:
                    raise UnsafeArchive(ex.label, f"entry '{name}' cannot be made "
                                        f"({exc.strerror})", "K707") from None
                continue
            try:
                with zf.open(info) as source:
                    ex.file(name, source, info.compress_size)
            except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError,
                    OSError) as exc:
                raise UnsafeArchive(ex.label, f"entry '{name}' cannot be read "
                                    f"({exc})", "K707") from None


def _untar(ex: _Extractor) -> None:
    try:
        # UTF-8 with surrogateescape keeps undecodable name bytes, to be read as legacy.
        tf = tarfile.open(ex.archive, "r:*", encoding="utf-8", errors="surrogateescape")
    except (tarfile.TarError, OSError) as exc:
        raise UnreadableArchive(str(ex.archive), "tar", str(exc)) from None
    with tf:
        ex.algorithms = TAR_GUESSED_ALGORITHMS
        try:
            for member in tf:
                ex.count_entry()
                name = tar_entry_name(member.name, archive=ex.label, legacy=ex.legacy_encoding)
                if member.isdir():
                    ex.directory(name)
                elif member.isreg():
                    source = tf.extractfile(member)
                    ex.file(name, source, None)
                else:
                    kind = ("a symbolic link" if member.issym() else
                            "a hard link" if member.islnk() else
                            "a device file" if member.isdev() else "not a regular file")
                    raise UnsafeArchive(ex.label, f"entry '{name}' is {kind}", "K706")
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


SEARCH_DEPTH = 4  # how deep to look for a misplaced bag
MAKE_A_BAG = ("make one with `python -m bagit --sha256 FOLDER` (bagit-python) or Bagger, "
              "then validate it again")


def where_are_the_bags(root: Path) -> str:
    """One line for a folder without bagit.txt: not a bag, a bag deeper down, or several."""
    root = Path(root)
    # Inside an unpacked archive, say where things are as the archive's maker sees them.
    top = root.parent if root.parent.name.startswith(UNPACK_PREFIX) else root
    found = []
    for folder, dirs, files in os.walk(root):
        depth = len(Path(folder).relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if d != "__MACOSX") if depth < SEARCH_DEPTH else []
        if "bagit.txt" in files and Path(folder) != root:
            found.append(Path(folder).relative_to(top).as_posix())
            dirs[:] = []  # a bag's own folders hold no further bags
    if not found:
        return f"this is not a bag (there is no bagit.txt): {MAKE_A_BAG}"
    if len(found) == 1:
        return (f"the bag is inside folder {found[0]}: validate or deposit that folder itself "
                "(in an archive, the bag's folder must be at the top)")
    shown = ", ".join(found[:5]) + (" …" if len(found) > 5 else "")
    return f"this holds {len(found)} bags ({shown}): deposit each bag on its own"


@dataclass
class Received:
    """A bag as received: its root, and for an archive the digests of each staged file.

    ``staged`` is True when Kho unpacked the bag into its own staging folder: those files
    are Kho's to move into storage. A folder deposited in place is the archivist's, never
    moved, and has no digests yet.
    """

    root: Path
    staged: bool = False
    digests: dict[Path, tuple[int, dict[str, str]]] = field(default_factory=dict)


@contextlib.contextmanager
def received(path: Path, settings) -> Iterator[Received]:
    """The bag at ``path``: a folder as is, an archive unpacked into staging (removed after)."""
    path = Path(path)
    if path.is_dir():
        yield Received(path)
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
            yield Received(find_bag_root(staging), staged=True, digests=ex.digests)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def unpacked(path: Path, settings) -> Iterator[Path]:
    """Yield the bag root: a folder as is, an archive unpacked into staging (removed after)."""
    with received(path, settings) as bag:
        yield bag.root
