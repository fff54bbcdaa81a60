"""Checking one AIP against storage: every stored file streamed once, hashed with every
algorithm it needs, compared with the three sources of truth.

The sources are the OCFL inventory (sha512 manifest and fixity block, OCFL 1.1 §3.5.3 and
§3.5.6), the catalogue (AipFile rows) and the bag's own manifests as stored in the object
(RFC 8493 §2.1.3, §2.2.1). Storage that cannot be reached or read gives outcome *error*
(retry later), never a fixity failure. This module touches no database.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from repository.bagit import stored_manifest_entries
from repository.bagit.bag import BAGIT_TXT
from repository.errors import NotFound, StorageError, StorageUnavailable
from repository.forking import fork_context
from repository.storage import Storage, normalise_algorithm
from repository.storage.base import CHUNK_SIZE
from repository.storage.digests import fastest_strong_algorithms
from repository.storage.ocfl import INVENTORY, OBJECT_DECLARATION, ROOT_DECLARATION, SIDECAR

from .models import (CHANGED, DISAGREE, ERROR, INVENTORY_ALTERED, MISSING, OK, SIZE_CHANGED,
                     UNEXPECTED)

# 1 MiB reads (hashlib releases the GIL on buffers over 2 KiB). Not more: a bytes object
# of 4 MiB per read() is mapped and unmapped by malloc each time, and its page faults cost
# more than the hashing saves. Local files: 1 GB of sha512 took 1.87 s CPU with 4 MiB
# reads against 1.48 s read into one reused 1 MiB buffer; S3 (SeaweedFS, 8 threads, sha256):
# 0.65 s system time with 4 MiB reads against 0.2 s with 1 MiB, 1.45 s wall against 1.05 s.
READ_SIZE = CHUNK_SIZE
# Which computed digest to report first when several disagree: the inventory's own first.
_ALGORITHM_ORDER = ("sha512", "sha256", "sha384", "sha224", "sha1", "md5", "blake2b")
_MANIFEST_NAME = re.compile(r"^(tag)?manifest-([A-Za-z0-9-]+)\.txt$")
_VERSION_DIR = re.compile(r"^v[1-9][0-9]*$")
_SEVERITY = {OK: 0, DISAGREE: 1, CHANGED: 2, SIZE_CHANGED: 3, MISSING: 4, ERROR: 5}


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class CatalogueFile:
    """What the catalogue says of one stored file (from an AipFile row)."""

    version: int
    logical_path: str
    content_path: str
    size: int
    digests: dict[str, str]  # sha512 and the bag's other algorithms, hashlib names


@dataclass
class FileResult:
    """The outcome for one file (or inventory) of an AIP."""

    path: str                  # content path relative to the object root
    outcome: str
    version: int | None = None
    algorithm: str = ""
    expected: str = ""
    actual: str = ""
    size: int = 0
    detail: str = ""
    checked_at: datetime = field(default_factory=_now)
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "outcome": self.outcome, "version": self.version,
                "algorithm": self.algorithm, "expected": self.expected, "actual": self.actual,
                "size": self.size, "detail": self.detail,
                "checked_at": self.checked_at.isoformat(), "duration_s": round(self.duration_s, 6)}


@dataclass
class AipCheckResult:
    """Everything found in one check of one AIP."""

    aip_identifier: str
    location: str
    object_root: str
    started_at: datetime
    finished_at: datetime | None = None
    results: list[FileResult] = field(default_factory=list)

    @property
    def failures(self) -> list[FileResult]:
        return [r for r in self.results if r.outcome not in (OK, ERROR)]

    @property
    def errors(self) -> list[FileResult]:
        return [r for r in self.results if r.outcome == ERROR]

    @property
    def outcome(self) -> str:
        """failure if anything is wrong with the bytes, error if storage failed, else success."""
        if self.failures:
            return "failure"
        if self.errors:
            return "error"
        return "success"

    @property
    def files_checked(self) -> int:
        return sum(1 for r in self.results if r.outcome != ERROR and r.path != INVENTORY
                   and not r.path.endswith("/" + INVENTORY))

    @property
    def bytes_checked(self) -> int:
        return sum(r.size for r in self.results if r.outcome != ERROR)


@dataclass
class _Expected:
    """Per content path: each source's digests, the catalogue's size, the version."""

    version: int | None = None
    size: int | None = None
    sources: dict[str, dict[str, str]] = field(default_factory=dict)  # source -> alg -> hex

    def add(self, source: str, algorithm: str, digest: str) -> None:
        self.sources.setdefault(source, {})[algorithm] = digest.strip().lower()

    def values(self, algorithm: str) -> dict[str, str]:
        return {s: d[algorithm] for s, d in self.sources.items() if algorithm in d}

    def algorithms(self) -> list[str]:
        found = {a for d in self.sources.values() for a in d}
        return sorted(found, key=lambda a: _ALGORITHM_ORDER.index(a)
                      if a in _ALGORITHM_ORDER else len(_ALGORITHM_ORDER))

    def disagreements(self) -> list[tuple[str, dict[str, str]]]:
        return [(a, v) for a in self.algorithms() if len(set((v := self.values(a)).values())) > 1]


def _version_of(content_path: str) -> int | None:
    head = content_path.split("/", 1)[0]
    return int(head[1:]) if _VERSION_DIR.match(head) else None


def check_aip(storage: Storage, *, aip_identifier: str, ocfl_id: str, object_root: str,
              catalogue_files: Iterable[CatalogueFile], pool: Executor | None = None,
              digests: str = "all") -> AipCheckResult:
    """Check every file of one AIP in ``storage``; ``digests`` is "all" or "fastest".

    "fastest" computes one algorithm per file when every source agrees on the digests
    (the sources were computed from the same bytes, so one strong digest proves all);
    where they disagree, every algorithm is computed.
    """
    result = AipCheckResult(aip_identifier, storage.name, object_root, _now())
    own_pool = pool is None
    pool = pool or ThreadPoolExecutor(max_workers=default_threads(storage))
    try:
        _check(storage, result, ocfl_id, object_root, list(catalogue_files), pool, digests)
    finally:
        if own_pool:
            pool.shutdown()
    result.finished_at = _now()
    return result


def hashing_pool(storage: Storage, configured: int = 0, *, processes: bool = False) -> Executor:
    """The pool that reads and hashes ``storage``'s files: threads, or with ``processes``
    forked processes for local storage when this process may fork (``forking.fork_context``).

    Processes are for a command-line run: hashlib releases the GIL, but every read and the
    loop around it need it back, and on a busy 2-core machine a preempted holder stalls the
    other hashing thread (1 GB of sha512 under a load of 8: threads 1.9x bagit.py's two
    processes, processes about even). Forked before any thread starts, children inherit the
    imported modules, so they cost a few milliseconds; they touch no database.
    """
    workers = default_threads(storage, configured)
    if processes and storage.kind == "local" and workers > 1:
        context = fork_context()
        if context is not None:
            return ProcessPoolExecutor(workers, mp_context=context)
    return ThreadPoolExecutor(max_workers=workers)


def default_threads(storage: Storage, configured: int = 0) -> int:
    """Hashing threads: as configured, else one per core (local) or more to hide latency (S3)."""
    if configured > 0:
        return configured
    cores = os.cpu_count() or 2
    return cores if storage.kind == "local" else max(8, cores * 4)


def _check(storage: Storage, result: AipCheckResult, ocfl_id: str, root: str,
           catalogue: list[CatalogueFile], pool: Executor, mode: str) -> None:
    # 0. The storage root must be there: a location that is not mounted, or a bucket that
    # does not answer, is an error to retry, never a pile of "missing" files.
    try:
        if not storage.exists(ROOT_DECLARATION):
            raise StorageUnavailable(f"{storage.name}: no OCFL storage root declaration "
                                     f"({ROOT_DECLARATION}): not mounted or not readable")
    except StorageError as exc:
        result.results.append(FileResult("", ERROR, detail=str(exc)))
        return
    # 1. What is in the object root now (one listing gives every size).
    try:
        listing = {info.key[len(root) + 1:]: info.size for info in storage.list_info(root + "/")}
    except StorageError as exc:  # unreachable, or listing refused: nothing can be proven
        result.results.append(FileResult("", ERROR, detail=f"cannot list {root}: {exc}"))
        return
    # 2. The inventories, each against its sidecar.
    inventory = _check_inventories(storage, result, ocfl_id, root, listing)
    if any(r.outcome == ERROR for r in result.results):
        return
    # 3. What each source says each content path should be.
    expected: dict[str, _Expected] = {}
    if inventory is not None:
        for digest, paths in inventory.get("manifest", {}).items():
            for path in paths:
                expected.setdefault(path, _Expected(_version_of(path))).add(
                    "inventory", "sha512", digest)
        for alg, table in inventory.get("fixity", {}).items():
            try:
                name = normalise_algorithm(alg)
            except StorageError:
                continue
            for digest, paths in table.items():
                for path in paths:
                    expected.setdefault(path, _Expected(_version_of(path))).add(
                        "inventory", name, digest)
    for f in catalogue:
        entry = expected.setdefault(f.content_path, _Expected(_version_of(f.content_path)))
        entry.size = f.size
        for alg, digest in f.digests.items():
            try:
                entry.add("catalogue", normalise_algorithm(alg), str(digest))
            except StorageError:
                continue
    if inventory is not None:
        if not _read_bag_manifests(storage, result, root, inventory, expected, listing):
            return
    # 4. Files present in the object that no inventory lists.
    for path, size in sorted(listing.items()):
        if path not in expected and not _is_ocfl_structure(path):
            result.results.append(FileResult(
                path, UNEXPECTED, _version_of(path), size=size,
                detail="file present in storage but listed in no inventory"))
    # 5. Presence disagreements, missing files, then hash the rest in parallel.
    jobs = []
    for path, entry in sorted(expected.items()):
        if inventory is not None and "inventory" not in entry.sources:
            result.results.append(FileResult(
                path, DISAGREE, entry.version,
                detail=f"listed by {', '.join(sorted(entry.sources))} but not by the OCFL inventory"))
            if path not in listing:
                continue
        elif "catalogue" not in entry.sources and catalogue:
            result.results.append(FileResult(
                path, DISAGREE, entry.version,
                detail=f"listed by {', '.join(sorted(entry.sources))} but not by the catalogue"))
        if path not in listing:
            alg, values = _first_digest(entry)
            result.results.append(FileResult(
                path, MISSING, entry.version, alg, values, "", 0,
                detail=f"listed by {', '.join(sorted(entry.sources))}, absent from storage"))
            continue
        algorithms = _algorithms_to_compute(entry, mode)
        jobs.append((path, entry, listing[path],
                     pool.submit(_hash_object, storage, f"{root}/{path}", algorithms)))
    for path, entry, listed_size, future in jobs:
        result.results.append(_compare(path, entry, listed_size, future.result()))


def _check_inventories(storage: Storage, result: AipCheckResult, ocfl_id: str, root: str,
                       listing: dict[str, int]) -> dict[str, Any] | None:
    """Check the root and every version inventory against its sidecar; the root one, parsed."""
    if INVENTORY not in listing:
        result.results.append(FileResult(INVENTORY, MISSING, algorithm="sha512",
                                         detail="the object's root inventory.json is missing"))
        return None
    names = [INVENTORY] + sorted(p for p in listing if p.count("/") == 1
                                 and p.endswith("/" + INVENTORY)
                                 and _VERSION_DIR.match(p.split("/")[0]))
    parsed: dict[str, Any] | None = None
    for name in names:
        started = time.perf_counter()
        try:
            body = _read_all(storage, f"{root}/{name}")
            sidecar = _read_all(storage, f"{root}/{name}.sha512").decode("utf-8", "replace").split()
        except NotFound:
            result.results.append(FileResult(
                f"{name}.sha512", MISSING, _version_of(name), "sha512",
                detail="inventory sidecar is missing"))
            continue
        except StorageError as exc:
            result.results.append(FileResult(name, ERROR, _version_of(name),
                                              detail=f"cannot read: {exc}"))
            return None
        actual = hashlib.sha512(body).hexdigest()
        want = sidecar[0].lower() if sidecar else ""
        outcome, detail = OK, ""
        if actual != want:
            outcome, detail = INVENTORY_ALTERED, "inventory does not match its sidecar digest"
        data = None
        try:
            data = json.loads(body.decode("utf-8"))
            if not isinstance(data, dict) or data.get("id") != ocfl_id:
                outcome, detail = INVENTORY_ALTERED, f"inventory is not of object {ocfl_id}"
                data = None
        except (UnicodeDecodeError, ValueError):
            outcome, detail = INVENTORY_ALTERED, "inventory is not valid JSON"
        result.results.append(FileResult(name, outcome, _version_of(name), "sha512", want,
                                         actual, len(body), detail,
                                         duration_s=time.perf_counter() - started))
        if name == INVENTORY:
            parsed = data
    return parsed


def _read_bag_manifests(storage: Storage, result: AipCheckResult, root: str,
                        inventory: dict[str, Any], expected: dict[str, _Expected],
                        listing: dict[str, int]) -> bool:
    """Add each version's bag manifests (stored in the object) as the third source.

    Read with ingest's own parser (repository.bagit), in the bag's declared encoding and
    version, so percent-encoded, NFD and './' names match the logical paths they name."""
    for version, entry in sorted(inventory.get("versions", {}).items()):
        state = {p: d for d, paths in entry.get("state", {}).items() for p in paths}
        try:
            declaration = _stored_bytes(storage, root, inventory, listing, state.get(BAGIT_TXT))
            for logical, digest in sorted(state.items()):
                match = _MANIFEST_NAME.match(logical)
                if not match:
                    continue
                try:
                    algorithm = normalise_algorithm(match.group(2))
                except StorageError:
                    continue
                raw = _stored_bytes(storage, root, inventory, listing, digest)
                if raw is None:
                    continue  # reported as missing by the main pass
                entries, _ = stored_manifest_entries(raw, logical, declaration)
                for path, value in entries:
                    target = state.get(path)
                    if target is None:
                        continue  # listed by the manifest but not in the version: bag's own matter
                    for cp in inventory["manifest"].get(target, []):
                        expected.setdefault(cp, _Expected(_version_of(cp))).add(
                            "bag manifest", algorithm, value)
        except StorageError as exc:
            result.results.append(FileResult(f"{version}/content", ERROR, _version_of(f"{version}/"),
                                              detail=f"cannot read bag manifests: {exc}"))
            return False
    return True


def _stored_bytes(storage: Storage, root: str, inventory: dict[str, Any],
                  listing: dict[str, int], digest: str | None) -> bytes | None:
    """The bytes of the (small) tag file with inventory digest ``digest``, None if absent."""
    content = inventory.get("manifest", {}).get(digest, [None])[0] if digest else None
    if not content or content not in listing:
        return None
    try:
        return _read_all(storage, f"{root}/{content}")
    except NotFound:
        return None


def _is_ocfl_structure(path: str) -> bool:
    """Files OCFL itself puts in an object root (§3.1): not content, not unexpected."""
    if path in (OBJECT_DECLARATION, INVENTORY, SIDECAR) or path.startswith(("logs/", "extensions/")):
        return True
    parts = path.split("/")
    return len(parts) == 2 and _VERSION_DIR.match(parts[0]) is not None and parts[1] in (
        INVENTORY, SIDECAR)


def _read_all(storage: Storage, key: str) -> bytes:
    with storage.open(key) as stream:
        return stream.read()


def _first_digest(entry: _Expected) -> tuple[str, str]:
    for alg in entry.algorithms():
        values = entry.values(alg)
        if values:
            return alg, next(iter(values.values()))
    return "", ""


def _algorithms_to_compute(entry: _Expected, mode: str) -> tuple[str, ...]:
    """"all": every recorded algorithm. "fastest": where every source agrees, only the
    fastest strong one on this machine (the sources were computed from the same bytes, so
    one strong digest proves them all); where they disagree, all of them."""
    available = entry.algorithms()
    if mode == "fastest" and available and not entry.disagreements():
        for alg in fastest_strong_algorithms():
            if alg in available:
                return (alg,)
    return tuple(available) or ("sha512",)


@dataclass
class _Hashed:
    size: int = 0
    digests: dict[str, str] = field(default_factory=dict)
    error: str = ""
    missing: bool = False
    duration_s: float = 0.0


def _hash_object(storage: Storage, key: str, algorithms: tuple[str, ...]) -> _Hashed:
    """Stream one object once, feeding every hasher; storage errors are captured, not raised."""
    started = time.perf_counter()
    hashers = [hashlib.new(a) for a in algorithms]
    size = 0
    try:
        with storage.open(key) as stream:
            if storage.kind == "local":
                size = _hash_file(stream, hashers)
            else:
                # read(), not readinto(): through S3Storage, readinto copies every byte once
                # more (reading and hashing 512 MiB from SeaweedFS: 1.15 s against 0.79 s).
                while chunk := stream.read(READ_SIZE):
                    for h in hashers:
                        h.update(chunk)
                    size += len(chunk)
    except NotFound:
        return _Hashed(missing=True, duration_s=time.perf_counter() - started)
    except (StorageError, OSError) as exc:
        return _Hashed(size, error=str(exc), duration_s=time.perf_counter() - started)
    return _Hashed(size, {a: h.hexdigest() for a, h in zip(algorithms, hashers)},
                   duration_s=time.perf_counter() - started)


def _hash_file(stream, hashers: list) -> int:
    """Feed a local file to every hasher through one reused buffer; the bytes read."""
    try:  # read once, front to back: let the kernel read ahead further
        os.posix_fadvise(stream.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
    except (AttributeError, OSError, io.UnsupportedOperation):
        pass
    buffer = memoryview(bytearray(READ_SIZE))
    size = 0
    while count := stream.readinto(buffer):
        piece = buffer[:count]
        for h in hashers:
            h.update(piece)
        size += count
    return size


def _compare(path: str, entry: _Expected, listed_size: int, hashed: _Hashed) -> FileResult:
    base = dict(path=path, version=entry.version, duration_s=hashed.duration_s)
    if hashed.missing:
        alg, want = _first_digest(entry)
        return FileResult(outcome=MISSING, algorithm=alg, expected=want,
                          detail="removed while being checked", **base)
    if hashed.error:
        return FileResult(outcome=ERROR, size=hashed.size, detail=f"cannot read: {hashed.error}",
                          **base)
    found: list[FileResult] = []
    for alg, actual in hashed.digests.items():
        values = entry.values(alg)
        distinct = set(values.values())
        if actual not in distinct:
            want = values.get("inventory") or next(iter(values.values()))
            outcome = CHANGED
            detail = f"{alg} of the stored bytes matches no recorded digest ({_sources(values)})"
            if entry.size is not None and entry.size != hashed.size:
                outcome = SIZE_CHANGED
                detail = f"size is {hashed.size} bytes, the catalogue says {entry.size}; " + detail
            found.append(FileResult(outcome=outcome, algorithm=alg, expected=want, actual=actual,
                                    size=hashed.size, detail=detail, **base))
        elif len(distinct) > 1:
            wrong = {s: v for s, v in values.items() if v != actual}
            found.append(FileResult(
                outcome=DISAGREE, algorithm=alg, expected=next(iter(wrong.values())),
                actual=actual, size=hashed.size,
                detail=f"the bytes match {', '.join(s for s in values if s not in wrong)}; "
                       f"{', '.join(wrong)} records a different {alg}", **base))
    if not found and entry.size is not None and entry.size != hashed.size:
        found.append(FileResult(outcome=SIZE_CHANGED, size=hashed.size,
                                detail=f"size is {hashed.size} bytes, the catalogue says "
                                       f"{entry.size}", **base))
    if not found:
        alg = next(iter(hashed.digests), "")
        return FileResult(outcome=OK, algorithm=alg, expected=hashed.digests.get(alg, ""),
                          actual=hashed.digests.get(alg, ""), size=hashed.size, **base)
    found.sort(key=lambda r: -_SEVERITY.get(r.outcome, 0))
    return found[0]


def _sources(values: dict[str, str]) -> str:
    return "; ".join(f"{source}: {digest}" for source, digest in values.items())
