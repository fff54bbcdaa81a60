"""Ingest as a sequence of small steps on one package: receive, validate, characterise,
store as an OCFL object, register in the catalogue.

All or nothing: any failure after storing removes the stored object (or the new version),
and the catalogue is written in one transaction, last.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
import unicodedata
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Callable

from repository import __version__
from repository.access.rights import parse_access
from repository.catalog import Aip, AipFile, AipVersion, DublinCoreRecord, record_event
from repository.catalog.chain_store import record_chain_head
from repository.catalog.collections import require_collection
from repository.catalog.copies import record_copies
from repository.catalog.files import file_rows
from repository.config import Settings
from repository.errors import (DigestMismatch, DuplicatePackage, KhoError, PackageInvalid,
                               Problem, ValidationReport)
from repository.holdings.links import record_aip_shelfmark
from repository.bagit.bag import Bag
from repository.ingest.characterise import FileFormat, identify_formats
from repository.ingest.exported import ExportedAip, read_export
from repository.ingest.unpack import serialization_of, unpacked
from repository.ingest.validate import BagValidation, validate_bag
from repository.metadata import primary_title, search_text
from repository.storage import OcflStore, SourceFile, get_location, load_locations
from repository.storage.replicas import ReplicaWrites, write_replicas
from repository.storage.aip_layout import (AIP_FILE, DUBLIN_CORE_FILE, EVENTS_FILE,
                                           FORMATS_FILE, METADATA_DIR, AipDescription,
                                           dump_json, ocfl_id_for)

log = logging.getLogger(__name__)
SOFTWARE_AGENT = f"Kho {__version__}"
# Strongest first: the payload fingerprint uses the best algorithm the bag's manifests have.
FINGERPRINT_ALGORITHMS = ("sha512", "sha384", "sha256", "sha224", "sha1", "md5")
Progress = Callable[[int], None]  # called with the number of bytes just stored


@dataclass
class IngestResult:
    """What ingest made: the AIP's identifier and where it went."""

    identifier: str
    ocfl_id: str
    version: int
    location: str
    collection: str
    object_root: str
    file_count: int
    total_bytes: int
    warnings: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"identifier": self.identifier, "ocfl_id": self.ocfl_id, "version": self.version,
                "location": self.location, "collection": self.collection,
                "object_root": self.object_root, "files": self.file_count,
                "bytes": self.total_bytes,
                "warnings": [w.as_dict() for w in self.warnings]}


@dataclass
class PendingEvent:
    """An event decided during ingest, written to storage first, then to the catalogue."""

    event_type: str
    outcome: str
    detail: str
    when: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    identifier: str = field(default_factory=lambda: str(uuid.uuid4()))

    def as_dict(self, agent: str) -> dict[str, str]:
        return {"identifier": self.identifier, "type": self.event_type, "outcome": self.outcome,
                "detail": self.detail, "datetime": self.when.isoformat(), "agent": agent}


def ingest_package(path: Path, *, settings: Settings, catalog, collection: str,
                   location: str | None = None, access: str | None = None,
                   new_version: bool = False, agent: str = "", progress: Progress | None = None,
                   on_step: Callable[[str], None] | None = None,
                   on_total: Callable[[int], None] | None = None,
                   on_new_aip: Callable[[str], None] | None = None) -> IngestResult:
    """Validate the bag at ``path`` (folder or archive) and store it as an AIP.

    ``on_step`` hears each step's name; ``on_total`` the bytes about to be stored, then
    ``progress`` each chunk as it is stored; ``on_new_aip`` the identifier of a new AIP
    before anything of it is stored (so a killed ingest can be reconciled by it).
    """
    step = on_step or (lambda _name: None)
    policy = parse_access(access or settings.default_access)
    location_name = location or settings.default_location
    storage = get_location(settings, location_name)
    collection = existing_collection(catalog, collection)
    with unpacked(Path(path), settings) as bag_root:
        step("validating")
        validation = validate_bag(bag_root, settings=settings,
                                  serialization=serialization_of(Path(path)),
                                  verify_payload=False)
        exported = read_export(bag_root)  # a bag `kho export` made: its own kho-metadata/
        if exported is not None:
            adopt_exported_description(validation, exported)
        require_ingestable(validation, exported=exported is not None)
        bag = validation.bag
        fingerprint = payload_fingerprint(bag)
        previous = find_previous(catalog, bag, fingerprint, new_version=new_version)
        identifier = previous.identifier if previous else str(uuid.uuid4())
        description = AipDescription(
            identifier=identifier, collection=collection,
            access=str(policy), external_identifier=external_identifier(bag),
            payload_fingerprint=fingerprint, bagit_version=bag.version)
        who = agent_name(agent)
        # Identification (a child process) runs while the bag streams into storage; Kho's
        # own files, which need its answer, are stored last.
        identifying = ThreadPoolExecutor(1, thread_name_prefix="kho-identify")
        metadata = KhoMetadata(description, validation, who, identifying.submit(
            identify_formats, [item.path for item in bag.payload]),
            imported_from=exported.identifier if exported else None)
        identifying.shutdown(wait=False)
        if on_new_aip and previous is None:
            on_new_aip(identifier)
        step("storing")
        store = OcflStore(storage, workers=store_workers(settings, storage))
        deposited = bag_sources(bag, _thread_safe(progress), exported)
        if on_total:
            on_total(sum(source.size or 0 for source in deposited))
        sources = deposited + metadata.sources()
        ocfl_id = ocfl_id_for(identifier)
        try:
            if previous:
                old_state = store.inventory(ocfl_id).state()
                new_paths = {s.logical_path for s in sources}
                inventory = store.add_version(
                    ocfl_id, sources, remove=[p for p in old_state if p not in new_paths],
                    message=f"New deposit of {external_identifier(bag) or bag_root.name}",
                    user_name=who, fixity_algorithms=tuple(bag.manifests))
            else:
                inventory = store.create_object(
                    ocfl_id, sources, message=f"Ingest of {bag_root.name}", user_name=who,
                    fixity_algorithms=tuple(bag.manifests))
        except DigestMismatch as exc:
            report = ValidationReport()
            report.error("K303", relative_to_bag(exc.key),
                         f"{exc.algorithm} digest is {exc.actual}, the manifest says "
                         f"{exc.expected}; nothing was stored")
            raise PackageInvalid(report, "a payload file does not match its manifest") from exc
        version = int(inventory.head[1:])
        replicas = ReplicaWrites()
        try:
            # The policy's other locations each get a copy, read back and verified.
            step("replicating")
            replicas = write_replicas(settings, storage, ocfl_id, description.collection)
            step("registering")
            register_aip(catalog, description=description, record=validation.dublin_core,
                         inventory=inventory, formats=metadata.formats, bag=bag,
                         sizes={**{s.logical_path: s.size or 0 for s in deposited},
                                **metadata.sizes()},
                         events=metadata.events, agent=who, location=location_name,
                         object_root=store.object_root(ocfl_id), version=version,
                         policy=policy, link_field=settings.holdings_link_field)
        except BaseException:
            replicas.undo()
            undo_store(store, ocfl_id, version)
            raise
        record_copies(catalog, identifier, replicas.outcomes, agent=who, primary=replicas.primary)
        # The event-chain head goes to storage with each version: evidence if the newest
        # events are ever removed from the catalogue.
        record_chain_head(catalog, [storage, *replicas.targets.values()])
        store_collection_record(settings, catalog, description.collection, storage)
        payload_bytes = sum(f.size for f in bag.payload)
        return IngestResult(identifier=identifier, ocfl_id=ocfl_id, version=version,
                            location=location_name, collection=description.collection,
                            object_root=store.object_root(ocfl_id),
                            file_count=len(bag.payload), total_bytes=payload_bytes,
                            warnings=list(validation.report.warnings))


def existing_collection(catalog, name: str) -> str:
    """The stored name of the collection ``name``; refused before any work if it is unknown
    (collections are made on purpose: `kho collection add`)."""
    with catalog.session() as session:
        return require_collection(session, name).name


def store_collection_record(settings: Settings, catalog, name: str, storage) -> None:
    """Make sure the location holding the new AIP also holds its collection's record (who
    may read it), so a catalogue rebuilt from that location restores the collection's access.
    A failure is logged: the AIP is kept, and a rebuild without the record closes the
    collection rather than opening it."""
    from repository.catalog.collection_records import ensure_collection_stored
    from repository.catalog.queries import get_collection
    try:
        others = [s for n, s in load_locations(settings).items() if n != storage.name]
        with catalog.session() as session:
            ensure_collection_stored(get_collection(session, name), storage, others)
    except KhoError as exc:
        log.warning("cannot store the record of collection %s in %s: %s", name, storage.name, exc)


def store_workers(settings: Settings, storage) -> int:
    """How many files to copy at once: cores for a disk, more for S3 (network latency)."""
    if settings.store_workers:
        return settings.store_workers
    cores = os.cpu_count() or 1
    return cores * 2 if storage.kind == "s3" else cores


def _thread_safe(progress: Progress | None) -> Progress | None:
    if progress is None:
        return None
    lock = threading.Lock()

    def report(n: int) -> None:
        with lock:
            progress(n)
    return report


def adopt_exported_description(validation: BagValidation, exported: ExportedAip) -> None:
    """An export's Dublin Core is the AIP's as last edited: it wins over the deposited one."""
    if exported.record is None:
        return
    validation.report.extend(exported.problems)
    if not any(p.severity == "error" for p in exported.problems):
        validation.dublin_core = exported.record


def require_ingestable(validation: BagValidation, *, exported: bool = False) -> None:
    """Beyond a valid bag, ingest needs the bag complete, titled and clear of Kho's own folder
    (unless it is a bag `kho export` made, whose kho-metadata/ Kho reads and writes afresh)."""
    report = validation.report
    bag = validation.bag
    if report.valid:
        if bag.incomplete:
            report.error("K801", "fetch.txt",
                         "the bag lists files to fetch that are not present; "
                         "fetch them (kho validate --allow-fetch) before ingest")
        if (bag.root / METADATA_DIR).exists() and not exported:
            report.error("K802", METADATA_DIR,
                         f"the folder name {METADATA_DIR!r} is reserved for Kho's own metadata")
        if validation.dublin_core is None or not primary_title(validation.dublin_core):
            report.error("K803", "bag-info.txt",
                         "ingest needs a title: add metadata/dc.json, metadata/dc.xml or a "
                         "DC-Title line in bag-info.txt")
    if not report.valid:
        raise PackageInvalid(report)


def external_identifier(bag: Bag) -> str | None:
    values = bag.bag_info.get("External-Identifier") or []
    return values[0].strip() if values and values[0].strip() else None


def payload_fingerprint(bag: Bag) -> str:
    """sha256 over the sorted payload manifest in the strongest algorithm the bag has."""
    algorithm = next((a for a in FINGERPRINT_ALGORITHMS if a in bag.manifests),
                     sorted(bag.manifests)[0] if bag.manifests else "none")
    digest = hashlib.sha256(algorithm.encode())
    for item in sorted(bag.payload, key=lambda f: f.logical_path):
        digest.update(f"\n{item.logical_path}\t{item.digests.get(algorithm, '')}".encode())
    return f"{algorithm}:{digest.hexdigest()}"


def find_previous(catalog, bag: Bag, fingerprint: str, *, new_version: bool) -> Aip | None:
    """The AIP this deposit repeats, if any; refuses a repeat unless ``new_version``."""
    from sqlalchemy import select
    ext_id = external_identifier(bag)
    with catalog.session() as session:
        query = select(Aip)
        query = query.where(Aip.external_identifier == ext_id) if ext_id else \
            query.where(Aip.payload_digest == fingerprint)
        existing = session.scalars(query.order_by(Aip.id)).first()
        if existing is None:
            return None
        session.expunge(existing)
    if new_version:
        if existing.withdrawn_at is not None:  # a new version would silently reinstate it
            raise DuplicatePackage(
                f"AIP {existing.identifier} was withdrawn ({existing.withdrawal_reason}); "
                "it takes no new versions", existing.identifier)
        return existing
    same = existing.payload_digest == fingerprint
    what = (f"External-Identifier {ext_id!r}" if ext_id else "this payload")
    raise DuplicatePackage(
        f"Kho already holds {what} as AIP {existing.identifier}"
        f"{' with the same payload' if same and ext_id else ''}", existing.identifier)


def agent_name(user: str) -> str:
    return f"{SOFTWARE_AGENT} for {user}" if user else SOFTWARE_AGENT


def ingest_events(validation: BagValidation, formats: dict[Path, FileFormat],
                  imported_from: str | None = None) -> list[PendingEvent]:
    """The PREMIS events this ingest records, in the order they happened."""
    bag = validation.bag
    warnings = "; ".join(str(w) for w in validation.report.warnings)
    events = [PendingEvent(
        "validation", "success",
        f"BagIt {bag.version} bag, Payload-Oxum {bag.payload_oxum}, manifests "
        f"{', '.join(sorted(bag.manifests))}" + (f"; warnings: {warnings}" if warnings else ""))]
    counts: dict[str, int] = {}
    for fmt in formats.values():
        counts[fmt.pronom_id or "UNKNOWN"] = counts.get(fmt.pronom_id or "UNKNOWN", 0) + 1
    events.append(PendingEvent(
        "format identification", "success",
        "Siegfried (PRONOM): " + ", ".join(f"{k} ×{v}" for k, v in sorted(counts.items()))))
    events.append(PendingEvent(
        "message digest calculation", "success",
        f"sha512 and {', '.join(sorted(bag.manifests))} computed for {len(bag.payload)} payload "
        "files while storing; each matched the bag's manifests"))
    events.append(PendingEvent("ingestion", "success", "stored as an OCFL 1.1 object" + (
        f"; a Kho export of AIP {imported_from}, whose record is kept in "
        f"{METADATA_DIR}/imported/{imported_from}/" if imported_from else "")))
    return events


class _CountingReader(io.RawIOBase):
    """Reports bytes read to a progress callback while passing them through."""

    def __init__(self, stream: BinaryIO, progress: Progress):
        self._stream, self._progress = stream, progress

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if data:
            self._progress(len(data))
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()


def _opener(path: Path, progress: Progress | None) -> Callable[[], BinaryIO]:
    if progress is None:
        return lambda: open(path, "rb")
    return lambda: _CountingReader(open(path, "rb"), progress)  # type: ignore[return-value]


def bag_sources(bag: Bag, progress: Progress | None,
                exported: ExportedAip | None = None) -> list[SourceFile]:
    """The bag as deposited: payload with its manifest digests, then every tag file;
    ``progress`` hears every byte read from them. Of an ``exported`` bag's Kho files, only
    those Kho does not make afresh are kept (exported.stored_name)."""
    sources = [SourceFile(item.logical_path, _opener(item.path, progress), item.size,
                          dict(item.digests)) for item in bag.payload]
    for path in sorted(tag_file_paths(bag.root)):
        name = path.relative_to(bag.root).as_posix()
        stored = exported.stored_name(unicodedata.normalize("NFC", name)) if exported else \
            unicodedata.normalize("NFC", name)
        if stored is None:
            continue
        sources.append(SourceFile(stored, _opener(path, progress),
                                  path.stat().st_size, dict(tag_digests(bag, name))))
    return sources


def tag_file_paths(root: Path) -> list[Path]:
    """Every file of the bag outside data/ (bagit.txt, manifests, metadata/…), however deep."""
    found = []
    for path in root.iterdir():
        if path.name == "data" and path.is_dir():
            continue
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(p for p in path.rglob("*") if p.is_file())
    return found


def tag_digests(bag: Bag, name: str) -> dict[str, str]:
    return {alg: table[name] for alg, table in bag.tag_manifests.items() if name in table}


class KhoMetadata:
    """Kho's own files for this version (kho-metadata/…), built once, when first opened.

    formats.json and the events need the format identification, which runs meanwhile.
    """

    def __init__(self, description: AipDescription, validation: BagValidation, agent: str,
                 formats: Future, imported_from: str | None = None):
        self._description, self._validation, self._agent = description, validation, agent
        self._formats, self._imported_from = formats, imported_from

    @cached_property
    def formats(self) -> dict[Path, FileFormat]:
        return self._formats.result()

    @cached_property
    def events(self) -> list[PendingEvent]:
        return ingest_events(self._validation, self.formats, self._imported_from)

    @cached_property
    def files(self) -> dict[str, bytes]:
        by_path = {item.logical_path: self.formats.get(item.path)
                   for item in self._validation.bag.payload}
        return {
            AIP_FILE: dump_json(self._description.as_dict()),
            DUBLIN_CORE_FILE: dump_json(self._validation.dublin_core or {}),
            FORMATS_FILE: dump_json({path: fmt.as_dict()
                                     for path, fmt in sorted(by_path.items()) if fmt}),
            EVENTS_FILE: dump_json([e.as_dict(self._agent) for e in self.events]),
        }

    def sources(self) -> list[SourceFile]:
        return [SourceFile(path, (lambda p=path: io.BytesIO(self.files[p])))
                for path in (AIP_FILE, DUBLIN_CORE_FILE, FORMATS_FILE, EVENTS_FILE)]

    def sizes(self) -> dict[str, int]:
        return {path: len(data) for path, data in self.files.items()}


def register_aip(catalog, *, description: AipDescription, record: dict | None, inventory,
                 formats: dict[Path, FileFormat], bag: Bag, sizes: dict[str, int],
                 events: list[PendingEvent],
                 agent: str, location: str, object_root: str, version: int, policy,
                 link_field: str = "External-Identifier") -> None:
    """One catalogue transaction: the AIP, its version, files, description and events."""
    from sqlalchemy import insert, select
    by_logical = {item.logical_path: formats[item.path].as_dict()
                  for item in bag.payload if item.path in formats}
    # The version's time as storage records it, so a rebuilt catalogue says the same.
    now = inventory.created()
    with catalog.session() as session:
        collection = require_collection(session, description.collection)
        aip = session.scalar(select(Aip).where(Aip.identifier == description.identifier))
        if aip is None:
            aip = Aip(identifier=description.identifier,
                      ocfl_id=ocfl_id_for(description.identifier), created_at=now)
            session.add(aip)
        aip.collection = collection
        aip.location, aip.object_root, aip.current_version = location, object_root, version
        aip.external_identifier = description.external_identifier
        aip.payload_digest = description.payload_fingerprint
        aip.access, aip.embargo_until = policy.level, policy.embargo_until
        aip.updated_at = now
        head = inventory.versions[inventory.head]
        session.add(AipVersion(aip=aip, number=version, message=head.get("message", ""),
                               agent=agent, created_at=now))
        session.flush()  # the AIP's id, for the file rows below
        session.execute(insert(AipFile), file_rows(aip.id, version, inventory, by_logical, sizes))
        total = sum(item.size for item in bag.payload)
        aip.total_size, aip.file_count = total, len(bag.payload)
        if aip.dublin_core is None:
            aip.dublin_core = DublinCoreRecord(record=record or {})
        aip.dublin_core.record = record or {}
        aip.dublin_core.title = primary_title(record or {})
        aip.dublin_core.search_text = search_text(record or {})
        aip.dublin_core.updated_at = now
        # The holdings register links this AIP to the item whose shelfmark its bag carries.
        record_aip_shelfmark(session, aip.id, bag.bag_info, link_field)
        for event in events:
            record_event(session, event_type=event.event_type, agent=agent,
                         outcome=event.outcome, detail=event.detail,
                         aip_identifier=description.identifier, when=event.when,
                         identifier=event.identifier)


def undo_store(store: OcflStore, ocfl_id: str, version: int) -> None:
    """Remove what this ingest stored: the whole object for v1, else the new version."""
    if version == 1:
        store.delete_object(ocfl_id)
    else:
        store.rollback_version(ocfl_id, f"v{version}")


def relative_to_bag(key: str) -> str:
    """'…/v1/content/data/x.tif' → 'data/x.tif', for messages that name the bag's file."""
    marker = "/content/"
    return key.split(marker, 1)[1] if marker in key else key
