"""Export of one AIP version as a BagIt bag (RFC 8493), to a folder or as a streamed zip.

The bag is the deposit as it came (data/, bagit.txt, bag-info.txt, the payload manifests and
every other tag file, byte for byte), plus Kho's own metadata in the tag folder
``kho-metadata/`` (aip.json, dublin-core.json, formats.json, anything added to the AIP since,
and ``premis.xml``: the AIP's PREMIS 3 events up to that version). The deposited tag
manifests are replaced by fresh ones that cover every tag file, Kho's included.

Every byte comes from storage as a stream (local folder or S3) and is checked against the
inventory's sha512 while it is copied: a damaged file stops the export instead of ending up
in a bag that looks sound. A fresh Kho ingests the bag back (see docs/export.md for what
"the same AIP" means then).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import unicodedata
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from sqlalchemy import select

from repository.catalog import AipFile, AipVersion, events_for_aip, get_aip, premis_xml
from repository.catalog.events import as_utc
from repository.config import Settings
from repository.errors import Conflict, DigestMismatch, Gone, NotFound, UsageError
from repository.storage import get_location
from repository.storage.aip_layout import EVENTS_FILE, METADATA_DIR

PREMIS_FILE = f"{METADATA_DIR}/premis.xml"
_TAGMANIFEST = re.compile(r"^tagmanifest-([a-z0-9]+)\.txt$")
_MANIFEST = re.compile(r"^manifest-([a-z0-9]+)\.txt$")
_STRONGEST = ("sha512", "sha384", "sha256", "sha224", "sha1", "md5")


@dataclass(frozen=True)
class BagEntry:
    """One file of the exported bag: its path in the bag, size, and where its bytes come from."""

    name: str                                  # 'data/…', 'bag-info.txt', 'kho-metadata/…'
    size: int
    chunks: Callable[[], Iterator[bytes]]      # a fresh stream of its bytes each call
    sha512: str | None = None                  # checked while copying (stored files)
    digests: dict[str, str] | None = None      # known digests, for the tag manifests


@dataclass
class BagExport:
    """Everything an export writes, decided before a byte is copied."""

    identifier: str
    version: int
    entries: list[BagEntry]
    withdrawn: bool = False

    @property
    def bag_name(self) -> str:
        """The bag's folder name: the AIP and version (the top folder inside the zip)."""
        return f"{self.identifier}-v{self.version}"


def encode_bag_path(path: str) -> str:
    """RFC 8493 §2.1.3: CR, LF and % in a manifest's file name are percent-encoded."""
    return path.replace("%", "%25").replace("\n", "%0A").replace("\r", "%0D")


def _decode_bag_path(path: str) -> str:
    return re.sub(r"%(0A|0D|25)", lambda m: {"0A": "\n", "0D": "\r", "25": "%"}[m.group(1).upper()],
                  path, flags=re.IGNORECASE)


def plan_export(settings: Settings, session, identifier: str, version: int | None = None, *,
                allow_withdrawn: bool = False, agent_label=None) -> BagExport:
    """The bag of AIP ``identifier`` at ``version`` (default: the newest).

    NotFound for an unknown AIP or a version it does not have, Gone for a
    withdrawn AIP unless ``allow_withdrawn`` (its bag-info then says it was withdrawn).
    """
    aip = get_aip(session, identifier)
    if aip.withdrawn_at is not None and not allow_withdrawn:
        raise Gone(f"AIP {identifier} was withdrawn on {aip.withdrawn_at.date().isoformat()} "
                   f"({aip.withdrawal_reason}); export it with --include-withdrawn if it must "
                   "leave the repository all the same", aip.withdrawal_reason or "")
    number = aip.current_version if version is None else version
    if number < 1:
        raise UsageError(f"version must be 1 or more, not {number}")
    if number > aip.current_version:  # a well-formed ask for something that is not there
        raise NotFound(f"AIP {identifier} has versions 1 to {aip.current_version}; "
                         f"there is no version {number}")
    rows = list(session.scalars(select(AipFile).where(
        AipFile.aip_id == aip.id, AipFile.version == number).order_by(AipFile.logical_path)))
    storage = get_location(settings, aip.location)
    root = aip.object_root

    def stored(row: AipFile, name: str | None = None) -> BagEntry:
        key = f"{root}/{row.content_path}"
        return BagEntry(name or row.logical_path, row.size,
                        lambda: storage.iter_chunks(key), row.sha512,
                        {"sha512": row.sha512, **(row.digests or {})})

    by_path = {row.logical_path: row for row in rows}
    tag_algorithms = [m.group(1) for p in by_path if (m := _TAGMANIFEST.match(p))]
    payload_algorithms = [m.group(1) for p in by_path if (m := _MANIFEST.match(p))]
    names = _deposited_names(storage, root, by_path, payload_algorithms)

    entries: list[BagEntry] = []
    for row in rows:
        path = row.logical_path
        if _TAGMANIFEST.match(path) or path == EVENTS_FILE or path == PREMIS_FILE:
            continue  # replaced below: fresh tag manifests, all events in premis.xml
        if path == "bag-info.txt" and aip.withdrawn_at is not None:
            entries.append(_withdrawn_bag_info(storage, root, row, aip))
            continue
        entries.append(stored(row, names.get(path)))

    events = _events_of_version(session, storage, aip, number, rows)
    premis = premis_xml(session, aip, agent_label, files=rows, events=events)
    entries.append(_in_memory(PREMIS_FILE, premis))
    algorithms = tag_algorithms or payload_algorithms or ["sha256"]
    entries.extend(_tag_manifests(entries, algorithms))
    return BagExport(aip.identifier, number, entries, withdrawn=aip.withdrawn_at is not None)


def _deposited_names(storage, root: str, by_path: dict[str, AipFile],
                     algorithms: list[str]) -> dict[str, str]:
    """NFC logical path -> the payload file's name as the deposited manifest wrote it.

    Kho keeps logical paths in NFC; writing each file back under its manifest's own name
    (NFD included) gives back the bag as deposited, not one that needs normalising.
    """
    algorithm = next((a for a in _STRONGEST if a in algorithms), None) or \
        (sorted(algorithms)[0] if algorithms else None)
    if algorithm is None:
        return {}
    row = by_path[f"manifest-{algorithm}.txt"]
    text = b"".join(storage.iter_chunks(f"{root}/{row.content_path}"))
    try:
        lines = text.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        return {}  # a legacy tag-file encoding: the NFC names are still a valid bag
    percent_encoded = _bagit_version(storage, root, by_path) >= (1, 0)
    names = {}
    for line in lines:
        parts = line.split(None, 1) if line.strip() else []
        if len(parts) != 2:
            continue
        name = parts[1].removeprefix("*").removeprefix("./")
        if percent_encoded:
            name = _decode_bag_path(name)
        names[unicodedata.normalize("NFC", name)] = name
    return {path: name for path, name in names.items() if path in by_path}


def _bagit_version(storage, root: str, by_path: dict[str, AipFile]) -> tuple[int, int]:
    row = by_path.get("bagit.txt")
    if row is None:
        return (1, 0)
    text = b"".join(storage.iter_chunks(f"{root}/{row.content_path}")).decode("utf-8", "replace")
    found = re.search(r"BagIt-Version:\s*([0-9]+)\.([0-9]+)", text)
    return (int(found.group(1)), int(found.group(2))) if found else (1, 0)


def _events_of_version(session, storage, aip, number: int, rows) -> list:
    """The AIP's events up to ``number``: those that made a later version, or happened after
    it, belong to that later version."""
    events = events_for_aip(session, aip.identifier)
    if number == aip.current_version:
        return events
    later = session.scalar(select(AipVersion).where(
        AipVersion.aip_id == aip.id, AipVersion.number == number + 1))
    later_ids: set[str] = set()
    for row in session.scalars(select(AipFile).where(
            AipFile.aip_id == aip.id, AipFile.version > number,
            AipFile.logical_path == EVENTS_FILE)):
        data = b"".join(storage.iter_chunks(f"{aip.object_root}/{row.content_path}"))
        later_ids.update(e.get("identifier") for e in json.loads(data))
    cutoff = as_utc(later.created_at) if later else None
    return [e for e in events if e.identifier not in later_ids
            and (cutoff is None or as_utc(e.event_datetime) <= cutoff)]


def _in_memory(name: str, data: bytes) -> BagEntry:
    """A small generated tag file (PREMIS, a tag manifest), with its digests."""
    return BagEntry(name, len(data), lambda: iter([data]), hashlib.sha512(data).hexdigest(),
                    None)


def _withdrawn_bag_info(storage, root: str, row: AipFile, aip) -> BagEntry:
    """bag-info.txt as deposited plus one element saying the AIP was withdrawn, so nobody
    who receives the bag takes it for material still offered (RFC 8493 §2.2.2 allows any
    label)."""
    data = b"".join(storage.iter_chunks(f"{root}/{row.content_path}"))
    if data and not data.endswith((b"\n", b"\r")):
        data += b"\n"
    reason = " ".join((aip.withdrawal_reason or "").split())
    data += (f"Kho-Withdrawn: {aip.withdrawn_at.date().isoformat()} {reason}\n").encode("utf-8")
    return _in_memory("bag-info.txt", data)


def _digest(entry: BagEntry, algorithm: str) -> str:
    """``entry``'s digest: as recorded when known, else computed from its bytes (tag files
    are small, and only files added without that algorithm need it)."""
    if entry.digests and algorithm in entry.digests:
        return entry.digests[algorithm]
    hasher = hashlib.new(algorithm)
    for chunk in entry.chunks():
        hasher.update(chunk)
    return hasher.hexdigest()


def _tag_manifests(entries: list[BagEntry], algorithms: Iterable[str]) -> list[BagEntry]:
    """Fresh tagmanifest-ALG.txt over every tag file (RFC 8493 §2.2.1): the deposited ones
    no longer cover the bag once Kho's metadata is in it."""
    tags = [e for e in entries if not e.name.startswith("data/")]
    made = []
    for algorithm in sorted(set(algorithms)):
        lines = "".join(f"{_digest(e, algorithm)}  {encode_bag_path(e.name)}\n"
                        for e in sorted(tags, key=lambda e: e.name))
        made.append(_in_memory(f"tagmanifest-{algorithm}.txt", lines.encode("utf-8")))
    return made


def checked_chunks(entry: BagEntry) -> Iterator[bytes]:
    """``entry``'s bytes, hashed as they pass; DigestMismatch at the end if storage no longer
    holds what the inventory recorded."""
    hasher = hashlib.sha512() if entry.sha512 else None
    for chunk in entry.chunks():
        if hasher:
            hasher.update(chunk)
        yield chunk
    if hasher and hasher.hexdigest() != entry.sha512:
        raise DigestMismatch(entry.name, "sha512", entry.sha512 or "", hasher.hexdigest())


def _refuse_existing(dest: Path) -> None:
    if dest.exists() or dest.is_symlink():
        raise Conflict(f"{dest} already exists; give another --output or remove it first")


@contextmanager
def _staged(dest: Path) -> Iterator[Path]:
    """A hidden name beside ``dest`` (which must not exist) to write to; renamed into place
    only when the block ends well, removed when it does not."""
    _refuse_existing(dest)
    if not dest.parent.is_dir():
        raise UsageError(f"{dest.parent} is not a folder")
    staging = dest.parent / f".{dest.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        yield staging
        _refuse_existing(dest)
        os.rename(staging, dest)
    except BaseException:
        if staging.is_dir():
            shutil.rmtree(staging, ignore_errors=True)
        else:
            staging.unlink(missing_ok=True)
        raise


def write_bag_folder(export: BagExport, dest: Path) -> Path:
    """Write the bag as the folder ``dest`` (which must not exist), every file checked."""
    dest = Path(dest)
    with _staged(dest) as staging:
        for entry in export.entries:
            target = staging / entry.name
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as out:
                for chunk in checked_chunks(entry):
                    out.write(chunk)
    return dest


def zip_stream(export: BagExport):
    """The bag as a zip (zipstream-ng, stored): sizes are known up front, so the length is
    too; each file is read from storage only when the zip reaches it."""
    from zipstream import ZipStream
    archive = ZipStream(sized=True)
    for entry in export.entries:
        archive.add(_Checked(entry), arcname=f"{export.bag_name}/{entry.name}", size=entry.size)
    return archive


class _Checked:
    def __init__(self, entry: BagEntry):
        self.entry = entry

    def __iter__(self):
        return checked_chunks(self.entry)


def write_bag_zip(export: BagExport, dest: Path) -> Path:
    """Write the bag as the zip file ``dest`` (which must not exist)."""
    dest = Path(dest)
    with _staged(dest) as staging:
        with open(staging, "wb") as out:
            for chunk in zip_stream(export):
                out.write(chunk)
    return dest
