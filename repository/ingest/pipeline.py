"""Ingest as a sequence of small, named steps over one package: receive, validate,
characterise, store as an OCFL object, verify what was stored, register in the catalogue.

All or nothing: any failure after storing removes the stored object (or the new version),
and the catalogue is written in one transaction, last. Each step leaves its result on the
:class:`Package` and does nothing when that result is already there.
"""
from __future__ import annotations

import contextlib
import dataclasses
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
from typing import Any, BinaryIO, Callable, Iterator

from repository import __version__
from repository.access.rights import parse_access
from repository.catalog import Aip, record_event
from repository.catalog.aip_rows import AipRows, VersionRows, write_aip
from repository.catalog.chain_store import record_chain_head
from repository.catalog.collections import require_collection
from repository.catalog.copies import add_copies
from repository.config import Settings
from repository.errors import (DigestMismatch, DuplicatePackage, KhoError, PackageInvalid,
                               Problem, ValidationReport)
from repository.holdings.links import record_aip_shelfmark
from repository.bagit.bag import Bag
from repository.ingest.characterise import FileFormat, identify_formats
from repository.ingest.exported import ExportedAip, read_export
from repository.ingest.unpack import Received, received, serialization_of
from repository.ingest.validate import BagValidation, validate_bag
from repository.metadata import primary_title
from repository.storage import (OcflStore, SourceFile, get_location, load_locations,
                                normalise_algorithm)
from repository.storage.digests import CHECK_ALGORITHM
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


@dataclass
class Package:
    """One deposit on its way to an AIP: what it was given, and what each step learned.

    Steps run in order over one package (receive, validate, characterise, store, verify,
    register); each reads what the steps before it left here and adds its own result, and
    a step whose result is already here is not run again.
    """

    path: Path
    settings: Settings
    catalog: Any
    collection: str
    location: str
    policy: Any                      # access.rights.AccessPolicy
    new_version: bool
    agent: str                       # as recorded: "Kho 1.2 for <user>"
    progress: Progress | None = None
    on_total: Callable[[int], None] | None = None
    on_new_aip: Callable[[str], None] | None = None
    # receive
    received: Received | None = None
    # validate
    validation: BagValidation | None = None
    exported: ExportedAip | None = None  # a bag `kho export` made: its own kho-metadata/
    previous: Aip | None = None
    description: AipDescription | None = None
    # characterise (runs while the bag is stored; awaited by Kho's own files, stored last)
    metadata: "KhoMetadata | None" = None
    # store
    store: OcflStore | None = None
    deposited: list[SourceFile] = field(default_factory=list)
    inventory: Any = None
    # verify, register
    verified: bool = False
    registered: bool = False
    # replicate: the copies in the policy's other locations (storage/replicas.py)
    replicas: ReplicaWrites | None = None

    @property
    def bag(self) -> Bag:
        return self.validation.bag

    @property
    def ocfl_id(self) -> str:
        return ocfl_id_for(self.description.identifier)

    @property
    def version(self) -> int:
        return int(self.inventory.head[1:])

    def result(self) -> IngestResult:
        return IngestResult(identifier=self.description.identifier, ocfl_id=self.ocfl_id,
                            version=self.version, location=self.location,
                            collection=self.description.collection,
                            object_root=self.store.object_root(self.ocfl_id),
                            file_count=len(self.bag.payload),
                            total_bytes=sum(f.size for f in self.bag.payload),
                            warnings=list(self.validation.report.warnings))


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
    package = Package(
        path=Path(path), settings=settings, catalog=catalog,
        collection=existing_collection(catalog, collection),
        location=location or settings.default_location,
        policy=parse_access(access or settings.default_access), new_version=new_version,
        agent=agent_name(agent), progress=_thread_safe(progress), on_total=on_total,
        on_new_aip=on_new_aip)
    get_location(settings, package.location)  # an unknown location is refused before any work
    with receive(package):
        step("validating")
        validate_package(package)
        step("characterising")
        characterise_package(package)
        step("storing")
        store_package(package)
        step("verifying")
        verify_package(package)
        step("replicating")
        replicate_package(package)
        step("registering")
        register_aip(package)
    # The event-chain head goes to storage with each version (and each copy of it):
    # evidence if the newest events are ever removed from the catalogue.
    record_chain_head(catalog, [package.store.storage, *package.replicas.targets.values()])
    store_collection_record(settings, catalog, package.description.collection,
                            package.store.storage)
    return package.result()


@contextlib.contextmanager
def receive(package: Package) -> Iterator[Received]:
    """Receive: a folder as it is, an archive unpacked (and hashed) into private staging,
    removed when the block ends whatever happens."""
    if package.received is not None:
        yield package.received
        return
    with received(package.path, package.settings) as bag:
        package.received = bag
        try:
            yield bag
        finally:
            package.received = None  # its staged files are gone with staging


def validate_package(package: Package) -> None:
    """Validate: RFC 8493 and the profile (payload digests are checked while storing), the
    needs of ingest (complete, titled), and whether Kho holds this bag already."""
    if package.description is not None:
        return
    validation = validate_bag(package.received.root, settings=package.settings,
                              serialization=serialization_of(package.path),
                              verify_payload=False)
    exported = read_export(package.received.root)
    if exported is not None:
        adopt_exported_description(validation, exported)
    require_ingestable(validation, exported=exported is not None)
    package.exported = exported
    bag = validation.bag
    fingerprint = payload_fingerprint(bag)
    previous = find_previous(package.catalog, bag, fingerprint,
                             new_version=package.new_version)
    package.validation, package.previous = validation, previous
    package.description = AipDescription(
        identifier=previous.identifier if previous else str(uuid.uuid4()),
        collection=package.collection, access=str(package.policy),
        external_identifier=external_identifier(bag), payload_fingerprint=fingerprint,
        bagit_version=bag.version)
    if package.on_new_aip and previous is None:  # known before anything of it is stored
        package.on_new_aip(package.description.identifier)


def characterise_package(package: Package) -> None:
    """Characterise: PRONOM formats and image sizes, in a child process that runs while the
    bag is stored (staged files are linked into storage, never moved from under it)."""
    if package.metadata is not None:
        return
    identifying = ThreadPoolExecutor(1, thread_name_prefix="kho-identify")
    package.metadata = KhoMetadata(
        package.description, package.validation, package.agent,
        identifying.submit(identify_formats, [item.path for item in package.bag.payload]),
        imported_from=package.exported.identifier if package.exported else None)
    identifying.shutdown(wait=False)


def store_package(package: Package) -> None:
    """Store: the bag and Kho's files as a new OCFL object (or the AIP's next version), each
    file hashed once and compared with the manifest before the object is committed."""
    if package.inventory is not None:
        return
    storage = get_location(package.settings, package.location)
    package.store = store = OcflStore(storage, workers=store_workers(package.settings, storage))
    bag = package.bag
    package.deposited = deposited = bag_sources(bag, package.progress, package.received, package.exported)
    total = sum(source.size or 0 for source in deposited)
    if package.on_total:
        package.on_total(total)
    counted = _Counted(package.progress)
    for index, source in enumerate(deposited):
        if not source.staged_digests and package.progress:
            deposited[index] = dataclasses.replace(source, source=_opener(
                Path(source.source), counted))
    sources = deposited + package.metadata.sources()
    name = external_identifier(bag) or package.received.root.name
    try:
        if package.previous:
            old_state = store.inventory(package.ocfl_id).state()
            new_paths = {s.logical_path for s in sources}
            package.inventory = store.add_version(
                package.ocfl_id, sources, remove=[p for p in old_state if p not in new_paths],
                message=f"New deposit of {name}", user_name=package.agent,
                fixity_algorithms=(*bag.manifests, CHECK_ALGORITHM))
        else:
            package.inventory = store.create_object(
                package.ocfl_id, sources, message=f"Ingest of {package.received.root.name}",
                user_name=package.agent, fixity_algorithms=(*bag.manifests, CHECK_ALGORITHM))
    except DigestMismatch as exc:
        report = ValidationReport()
        report.error("K303", relative_to_bag(exc.key),
                     f"{exc.algorithm} digest is {exc.actual}, the manifest says "
                     f"{exc.expected}; nothing was stored")
        raise PackageInvalid(report, "a payload file does not match its manifest") from exc
    if package.progress and total > counted.bytes:  # moved files were not read: say so now
        package.progress(total - counted.bytes)


def verify_package(package: Package) -> None:
    """Verify what landed, not only what was received: every file of the bag is in the new
    version with the manifest's digests and its size in storage. The bytes were hashed as
    they were written (or unpacked); re-reading them is the first fixity check's work."""
    if package.verified:
        return
    try:
        problems = stored_differences(package)
    except KhoError:
        undo_store(package.store, package.ocfl_id, package.version)
        raise
    if problems:
        undo_store(package.store, package.ocfl_id, package.version)
        report = ValidationReport()
        for path, text in problems[:50]:
            report.error("K304", path, f"{text}; nothing was stored")
        raise PackageInvalid(report, "what was stored differs from the bag")
    package.verified = True


def stored_differences(package: Package) -> list[tuple[str, str]]:
    """(logical path, what is wrong) for each deposited file the stored version lacks or
    holds otherwise than the bag says; one listing of the object, no reads."""
    inventory, store = package.inventory, package.store
    root = store.object_root(package.ocfl_id)
    sizes = {info.key[len(root) + 1:]: info.size
             for info in store.storage.list_info(f"{root}/")}
    state = inventory.state()
    digests = inventory.digests_by_content_path()
    problems = []
    for source in package.deposited:
        sha512 = state.get(source.logical_path)
        if sha512 is None:
            problems.append((source.logical_path, "missing from the stored version"))
            continue
        content_path = inventory.manifest[sha512][0]
        if source.size is not None and sizes.get(content_path) != source.size:
            problems.append((source.logical_path, f"stored as {sizes.get(content_path)} "
                             f"bytes, the bag has {source.size}"))
            continue
        recorded = digests.get(content_path, {})
        for algorithm, want in source.expected.items():
            got = recorded.get(normalise_algorithm(algorithm))
            if got is not None and got != want.lower():
                problems.append((source.logical_path, f"stored with {algorithm} {got}, the "
                                 f"manifest says {want}"))
    return problems


def replicate_package(package: Package) -> None:
    """Replicate: after the stored object is verified, before the catalogue names it, copy it
    to every other location the replication policy names and read each copy back. A copy
    that fails is recorded as failed (the AIP is then shown as not safe, and `kho
    replicate` finishes it); a policy that cannot be used keeps nothing."""
    if package.replicas is not None:
        return
    try:
        package.replicas = write_replicas(package.settings, package.store.storage,
                                          package.ocfl_id, package.description.collection)
    except BaseException:
        undo_store(package.store, package.ocfl_id, package.version)
        raise


def register_aip(package: Package) -> None:
    """Register: one catalogue transaction (catalog.aip_rows) writes the AIP's rows, links it
    to the holdings register and records the ingest events; on failure the stored object
    (or new version) is removed."""
    if package.registered:
        return
    metadata, bag = package.metadata, package.bag
    formats = {item.logical_path: metadata.formats[item.path].as_dict()
               for item in bag.payload if item.path in metadata.formats}
    version = VersionRows(
        # The version's time as storage records it, so a rebuilt catalogue says the same.
        number=package.version, agent=package.agent, created_at=package.inventory.created(),
        message=package.inventory.versions[package.inventory.head].get("message", ""),
        formats=formats, sizes={**{s.logical_path: s.size or 0 for s in package.deposited},
                                **metadata.sizes()})
    try:
        with package.catalog.session() as session:
            aip = write_aip(session, AipRows(
                description=package.description, inventory=package.inventory,
                location=package.location, object_root=package.store.object_root(package.ocfl_id),
                versions=[version], dublin_core=package.validation.dublin_core or {}))
            # The holdings register links this AIP to the item whose shelfmark its bag carries.
            record_aip_shelfmark(session, aip.id, bag.bag_info,
                                 package.settings.holdings_link_field)
            for event in metadata.events:
                record_event(session, event_type=event.event_type, agent=package.agent,
                             outcome=event.outcome, detail=event.detail,
                             aip_identifier=package.description.identifier, when=event.when,
                             identifier=event.identifier)
            replicas = package.replicas or ReplicaWrites()
            add_copies(session, aip, replicas.outcomes, agent=package.agent,
                       primary=replicas.primary)
    except BaseException:
        if package.replicas is not None:
            package.replicas.undo()
        undo_store(package.store, package.ocfl_id, package.version)
        raise
    package.registered = True


class _Counted:
    """Passes byte counts on to ``progress`` and remembers how many it passed (threads
    store files at once)."""

    def __init__(self, progress: Progress | None):
        self._progress, self.bytes = progress, 0
        self._lock = threading.Lock()

    def __call__(self, n: int) -> None:
        with self._lock:
            self.bytes += n
        if self._progress:
            self._progress(n)


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


def bag_sources(bag: Bag, progress: Progress | None = None, received: Received | None = None,
                exported: ExportedAip | None = None) -> list[SourceFile]:
    """The bag as deposited: payload with its manifest digests, then every tag file (of an
    ``exported`` bag's Kho files, only those Kho does not make afresh: exported.stored_name).

    Each source is the file's path; a file Kho unpacked into its own staging carries the
    digests computed then, so storage may move it instead of copying it (never a folder
    deposited in place: that is the archivist's).
    """
    staged = received.digests if received is not None and received.staged else {}

    def source(logical_path: str, path: Path, size: int, expected: dict) -> SourceFile:
        known = staged.get(path)
        digests = known[1] if known and known[0] == size else {}
        return SourceFile(logical_path, path, size, expected, staged_digests=digests)

    sources = [source(item.logical_path, item.path, item.size, dict(item.digests))
               for item in bag.payload]
    for path in sorted(tag_file_paths(bag.root)):
        name = path.relative_to(bag.root).as_posix()
        stored = unicodedata.normalize("NFC", name)
        if exported is not None:
            stored = exported.stored_name(stored)
            if stored is None:
                continue
        sources.append(source(stored, path, path.stat().st_size, dict(tag_digests(bag, name))))
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
