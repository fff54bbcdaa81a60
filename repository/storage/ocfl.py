"""OCFL 1.1 objects on any Storage (https://ocfl.io/1.1/spec/).

The storage root uses extension 0004-hashed-n-tuple-storage-layout (sha256, 3 tuples of 3).
Objects are written so that a crash never leaves something that looks complete: content
first, then the version inventory, the object declaration, the root sidecar and, last, the
root ``inventory.json``. An object root without a root inventory is *incomplete*: readers
ignore it and `kho storage gc` removes it. Nothing in an existing version is rewritten.
"""
from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Mapping

from repository.errors import DigestMismatch, NotFound, StorageError, UsageError

from .base import Storage
from .digests import normalise_algorithm

SPEC_VERSION = "1.1"
ROOT_DECLARATION = "0=ocfl_1.1"                      # OCFL 1.1 §4.2
OBJECT_DECLARATION = "0=ocfl_object_1.1"             # OCFL 1.1 §3.1
INVENTORY_TYPE = "https://ocfl.io/1.1/spec/#inventory"
INVENTORY = "inventory.json"
DIGEST_ALGORITHM = "sha512"                          # OCFL 1.1 §3.5.1: sha512 SHOULD be used
SIDECAR = f"{INVENTORY}.{DIGEST_ALGORITHM}"
LAYOUT_EXTENSION = "0004-hashed-n-tuple-storage-layout"
LAYOUT_CONFIG = {"extensionName": LAYOUT_EXTENSION, "digestAlgorithm": "sha256",
                 "tupleSize": 3, "numberOfTuples": 3, "shortObjectRoot": False}
_ROOT_PATTERN = re.compile(r"^[0-9a-f]{3}/[0-9a-f]{3}/[0-9a-f]{3}/[0-9a-f]{64}$")
_VERSION_PATTERN = re.compile(r"^v([1-9][0-9]*)$")
# OCFL 1.1 §3.5.6: fixity algorithms from the spec and its digest-algorithm extension.
FIXITY_ALGORITHMS = {"md5", "sha1", "sha256", "sha512", "blake2b-512"}
# Files at least this large are stored by worker threads (see OcflStore._store_many).
PARALLEL_MIN_BYTES = 256 * 1024


@dataclass(frozen=True)
class SourceFile:
    """One file to store: its logical path, where its bytes come from, what they should hash to.

    ``source`` is a local path or a callable returning a fresh readable binary stream.
    ``expected`` holds digests known beforehand (the bag's manifests), checked while copying.
    """

    logical_path: str
    source: Path | str | Callable[[], BinaryIO]
    size: int | None = None
    expected: Mapping[str, str] = field(default_factory=dict)
    # Digests Kho computed while it wrote ``source`` (a path) into its own staging: such a
    # file may be moved into the object instead of copied (Storage.adopt).
    staged_digests: Mapping[str, str] = field(default_factory=dict)

    def open(self) -> BinaryIO:
        if isinstance(self.source, (str, os.PathLike)):
            return open(self.source, "rb")
        return self.source()


@dataclass(frozen=True)
class IncompleteObject:
    """Something `gc` may remove: an object root with no root inventory, or an unfinished version."""

    prefix: str            # every key under this prefix belongs to it
    last_modified: datetime
    reason: str


class Inventory:
    """An OCFL inventory (§3.5), kept as the JSON dict with a few readers on top."""

    def __init__(self, data: dict[str, Any]):
        self.data = data
        self._by_path: dict[str, dict[str, str]] | None = None

    id = property(lambda self: self.data["id"])
    head = property(lambda self: self.data["head"])
    manifest = property(lambda self: self.data["manifest"])
    versions = property(lambda self: self.data["versions"])
    fixity = property(lambda self: self.data.get("fixity", {}))

    def created(self, version: str | None = None) -> datetime:
        """When ``version`` (default: head) was created, as its inventory records (UTC)."""
        text = self.versions[version or self.head]["created"]
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)

    def state(self, version: str | None = None) -> dict[str, str]:
        """Logical path -> sha512 digest of ``version`` (default: head)."""
        version = version or self.head
        if version not in self.versions:
            raise NotFound(f"{self.id}: no version {version!r}")
        return {path: digest for digest, paths in self.versions[version]["state"].items()
                for path in paths}

    def content_path(self, logical_path: str, version: str | None = None) -> str:
        """The content path (relative to the object root) holding ``logical_path``."""
        logical_path = unicodedata.normalize("NFC", logical_path)
        digest = self.state(version).get(logical_path)
        if digest is None:
            raise NotFound(f"{self.id}: no file {logical_path!r} in {version or self.head}")
        return self.manifest[digest][0]

    def fixity_of(self, content_path: str) -> dict[str, str]:
        """Every digest the inventory records for one content path (manifest and fixity)."""
        return dict(self.digests_by_content_path().get(content_path, {}))

    def digests_by_content_path(self) -> dict[str, dict[str, str]]:
        """content path -> {algorithm: digest} for the whole inventory, built once.

        Looking each path up in the manifest and fixity tables would cost a scan per file:
        quadratic for a bag of 20,000 files.
        """
        if self._by_path is None:
            index: dict[str, dict[str, str]] = {}
            for digest, paths in self.manifest.items():
                for path in paths:
                    index.setdefault(path, {})[DIGEST_ALGORITHM] = digest
            for alg, table in self.fixity.items():
                for digest, paths in table.items():
                    for path in paths:
                        index.setdefault(path, {})[alg] = digest
            self._by_path = index
        return self._by_path

    def as_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.data)


def _parse_inventory(root: str, body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StorageError(f"{root}/{INVENTORY}: not valid JSON: {exc}") from exc


def _of_object(root: str, data: Any, object_id: str) -> dict[str, Any]:
    if data.get("id") != object_id:
        raise StorageError(f"{root}/{INVENTORY}: holds object {data.get('id')!r}, "
                           f"not {object_id!r}")
    return data


def object_root_for(object_id: str) -> str:
    """The 0004 layout path of an object: three 3-character tuples of sha256(id), then the digest."""
    digest = hashlib.sha256(object_id.encode("utf-8")).hexdigest()
    return f"{digest[0:3]}/{digest[3:6]}/{digest[6:9]}/{digest}"


def check_logical_path(path: str) -> str:
    """``path`` NFC-normalised, or UsageError if OCFL forbids it (§3.5.3.1: no '.', '..', empty parts)."""
    path = unicodedata.normalize("NFC", path)
    if not path or path.startswith("/") or path.endswith("/") or "\\" in path or "\0" in path:
        raise UsageError(f"invalid logical path {path!r}")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise UsageError(f"invalid logical path {path!r}")
    return path


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _timestamp(created: datetime | str | None) -> str:
    if created is None:
        return _now()
    if isinstance(created, str):
        return created
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return created.isoformat().replace("+00:00", "Z")


def _user(name: str, address: str | None) -> dict[str, str]:
    user = {"name": name}
    if address:
        # §3.5.3.1: the address SHOULD be a URI; an e-mail address becomes mailto:.
        if ":" not in address and "@" in address:
            address = f"mailto:{address}"
        user["address"] = address
    return user


def _check_conflicts(paths: Iterable[str]) -> None:
    # §3.5.3.1 (E095): a logical path must not also be a directory of another one.
    ordered = sorted(paths)
    seen = set(ordered)
    for path in ordered:
        parts = path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in seen:
                raise UsageError(f"logical path {path!r} conflicts with file {'/'.join(parts[:i])!r}")


class OcflStore:
    """OCFL objects in one storage location."""

    def __init__(self, storage: Storage, *, workers: int = 1):
        self.storage = storage
        # Files stored at once: hashing and I/O release the GIL, so threads use every core.
        self.workers = max(1, workers)

    # -- storage root -------------------------------------------------------------------

    def ensure_storage_root(self) -> None:
        """Write the storage root declaration and layout files if absent (§4.2, §4.4)."""
        if self.storage.exists(ROOT_DECLARATION):
            return
        self._put_bytes(f"extensions/{LAYOUT_EXTENSION}/config.json",
                        json.dumps(LAYOUT_CONFIG, indent=2).encode() + b"\n")
        self._put_bytes("ocfl_layout.json", json.dumps({
            "extension": LAYOUT_EXTENSION,
            "description": "OCFL object identifiers are hashed with sha256 and split into "
                           "three 3-character directories, then the full digest."},
            indent=2).encode() + b"\n")
        self._put_bytes(ROOT_DECLARATION, f"ocfl_{SPEC_VERSION}\n".encode())

    def object_root(self, object_id: str) -> str:
        return object_root_for(object_id)

    # -- writing --------------------------------------------------------------------------

    def create_object(self, object_id: str, files: Iterable[SourceFile], *, message: str,
                      user_name: str, user_address: str | None = None,
                      created: datetime | str | None = None,
                      fixity_algorithms: Iterable[str] = ("md5", "sha1", "sha256")) -> Inventory:
        """Store ``files`` as version v1 of a new object; returns its inventory.

        Each file is streamed once, hashed with sha512, the fixity algorithms and every
        expected algorithm; a mismatch removes what was written and raises DigestMismatch.
        """
        if not object_id:
            raise UsageError("an OCFL object needs a non-empty identifier")
        self.ensure_storage_root()
        root = self.object_root(object_id)
        if self.storage.exists(f"{root}/{INVENTORY}"):
            raise StorageError(f"OCFL object {object_id!r} already exists in {self.storage.name}")
        self.storage.delete_prefix(f"{root}/")  # leftovers of an earlier crashed attempt
        fixity_algs = self._fixity_algorithms(fixity_algorithms)
        manifest: dict[str, list[str]] = {}
        state: dict[str, list[str]] = {}
        fixity: dict[str, dict[str, list[str]]] = {}
        try:
            logical_paths: dict[str, SourceFile] = {}
            for source in files:
                path = check_logical_path(source.logical_path)
                if path in logical_paths:
                    raise UsageError(f"logical path {path!r} given twice")
                logical_paths[path] = source
            _check_conflicts(logical_paths)
            jobs = [(f"v1/content/{path}", source) for path, source in logical_paths.items()]
            for (content_path, _), path, digests in zip(
                    jobs, logical_paths, self._store_many(root, jobs, fixity_algs)):
                manifest.setdefault(digests[DIGEST_ALGORITHM], []).append(content_path)
                state.setdefault(digests[DIGEST_ALGORITHM], []).append(path)
                self._add_fixity(fixity, content_path, digests)
            inventory = {
                "id": object_id, "type": INVENTORY_TYPE, "digestAlgorithm": DIGEST_ALGORITHM,
                "head": "v1", "contentDirectory": "content", "manifest": manifest,
                "versions": {"v1": {"created": _timestamp(created), "message": message,
                                    "user": _user(user_name, user_address), "state": state}},
            }
            if fixity:
                inventory["fixity"] = fixity
            self._commit(root, inventory, first=True)
        except BaseException:
            self._discard(f"{root}/")
            raise
        return Inventory(inventory)

    def add_version(self, object_id: str, files: Iterable[SourceFile] = (), *,
                    remove: Iterable[str] = (), message: str, user_name: str,
                    user_address: str | None = None, created: datetime | str | None = None,
                    fixity_algorithms: Iterable[str] = ("md5", "sha1", "sha256")) -> Inventory:
        """A new version: the head state, minus ``remove``, with ``files`` added or replaced.

        Content already in the object (same sha512) is not stored again; the new state
        points at the existing content path (OCFL 1.1 §3.3 forward-delta).
        """
        previous = self.inventory(object_id)
        root = self.object_root(object_id)
        match = _VERSION_PATTERN.match(previous.head)
        if not match:
            raise StorageError(f"{object_id}: cannot add to head version {previous.head!r}")
        version = f"v{int(match.group(1)) + 1}"
        self.storage.delete_prefix(f"{root}/{version}/")  # an unfinished earlier attempt
        fixity_algs = self._fixity_algorithms(fixity_algorithms)
        data = previous.as_dict()
        manifest: dict[str, list[str]] = data["manifest"]
        fixity: dict[str, dict[str, list[str]]] = data.setdefault("fixity", {})
        current = previous.state()
        for path in remove:
            path = check_logical_path(path)
            if path not in current:
                raise NotFound(f"{object_id}: no file {path!r} to remove")
            del current[path]
        try:
            jobs: list[tuple[str, SourceFile]] = []
            for source in files:
                path = check_logical_path(source.logical_path)
                known = {normalise_algorithm(a): v.lower() for a, v in source.expected.items()}
                if known.get(DIGEST_ALGORITHM) in manifest:
                    current[path] = known[DIGEST_ALGORITHM]
                    continue
                jobs.append((f"{version}/content/{path}", source))
            stored = self._store_many(root, jobs, fixity_algs)
            for (content_path, _), digests in zip(jobs, stored):
                path = content_path.split("/content/", 1)[1]
                digest = digests[DIGEST_ALGORITHM]
                if digest in manifest:
                    # Same bytes already stored: keep the old content path, drop the new copy.
                    self.storage.delete(f"{root}/{content_path}")
                else:
                    manifest[digest] = [content_path]
                    self._add_fixity(fixity, content_path, digests)
                current[path] = digest
            _check_conflicts(current)
            state: dict[str, list[str]] = {}
            for path, digest in sorted(current.items()):
                state.setdefault(digest, []).append(path)
            data["head"] = version
            data["versions"][version] = {"created": _timestamp(created), "message": message,
                                         "user": _user(user_name, user_address), "state": state}
            if not fixity:
                data.pop("fixity")
            self._commit(root, data, first=False)
        except BaseException:
            if not self._root_head_is(root, version):  # never undo a committed version
                self._discard(f"{root}/{version}/")
            raise
        return Inventory(data)

    def _fixity_algorithms(self, algorithms: Iterable[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(normalise_algorithm(a) for a in algorithms))

    def _store_many(self, root: str, jobs: list[tuple[str, SourceFile]],
                    fixity_algs: tuple[str, ...]) -> list[dict[str, str]]:
        """Store every (content path, source); digests in job order.

        Large files go to ``workers`` threads (hashing and I/O release the GIL); small ones
        are stored by this thread meanwhile, since for them thread hand-offs cost more than
        they save. The first failure stops the files not yet started and is raised.
        """
        def store(job: tuple[str, SourceFile]) -> dict[str, str]:
            return self._store_content(root, job[0], job[1], fixity_algs)

        large = [i for i, (_, source) in enumerate(jobs)
                 if source.size is None or source.size >= PARALLEL_MIN_BYTES]
        if self.workers == 1 or len(large) < 2:
            return [store(job) for job in jobs]
        from concurrent.futures import ThreadPoolExecutor
        results: list[dict[str, str] | None] = [None] * len(jobs)
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="ocfl-put")
        try:
            futures = {i: pool.submit(store, jobs[i]) for i in large}
            for i, job in enumerate(jobs):
                if i not in futures:
                    results[i] = store(job)
            for i, future in futures.items():
                results[i] = future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return results  # type: ignore[return-value]

    def _store_content(self, root: str, content_path: str, source: SourceFile,
                       fixity_algs: tuple[str, ...]) -> dict[str, str]:
        algorithms = (DIGEST_ALGORITHM, *fixity_algs)
        key = f"{root}/{content_path}"
        needed = {normalise_algorithm(a) for a in (*algorithms, *source.expected)}
        if source.staged_digests and needed <= set(source.staged_digests) \
                and isinstance(source.source, (str, os.PathLike)) and source.size is not None:
            adopted = self.storage.adopt(
                key, Path(source.source), size=source.size, expected=source.expected,
                digests={a: source.staged_digests[a] for a in needed})
            if adopted is not None:
                return dict(adopted.digests)
        with source.open() as stream:
            result = self.storage.put(key, stream, size=source.size,
                                      algorithms=algorithms, expected=source.expected,
                                      durable=False)
        return dict(result.digests)

    @staticmethod
    def _add_fixity(fixity: dict[str, dict[str, list[str]]], content_path: str,
                    digests: Mapping[str, str]) -> None:
        for alg, digest in digests.items():
            name = "blake2b-512" if alg == "blake2b" else alg
            if alg == DIGEST_ALGORITHM or name not in FIXITY_ALGORITHMS:
                continue
            fixity.setdefault(name, {}).setdefault(digest, []).append(content_path)

    def _commit(self, root: str, inventory: dict[str, Any], *, first: bool) -> None:
        self.storage.sync()  # content is durable before any inventory names it
        body = json.dumps(inventory, indent=2, ensure_ascii=False, sort_keys=True).encode("utf-8")
        sidecar = f"{hashlib.sha512(body).hexdigest()} {INVENTORY}\n".encode()
        head = inventory["head"]
        self._put_bytes(f"{root}/{head}/{INVENTORY}", body)
        self._put_bytes(f"{root}/{head}/{SIDECAR}", sidecar)
        if first:
            self._put_bytes(f"{root}/{OBJECT_DECLARATION}", f"ocfl_object_{SPEC_VERSION}\n".encode())
            # The root inventory is the commit point: written last, after its sidecar.
            self._put_bytes(f"{root}/{SIDECAR}", sidecar)
            self._put_bytes(f"{root}/{INVENTORY}", body)
        else:
            # Replacing: inventory first; a crash before the sidecar is detected and
            # tolerated by read_inventory (the version's own sidecar still matches).
            self._put_bytes(f"{root}/{INVENTORY}", body)
            self._put_bytes(f"{root}/{SIDECAR}", sidecar)

    def _put_bytes(self, key: str, data: bytes) -> None:
        self.storage.put(key, io.BytesIO(data), size=len(data), algorithms=())

    def _root_head_is(self, root: str, version: str) -> bool:
        try:
            with self.storage.open(f"{root}/{INVENTORY}") as stream:
                return json.load(stream).get("head") == version
        except (StorageError, ValueError):
            return False

    def _discard(self, prefix: str) -> None:
        try:
            self.storage.delete_prefix(prefix)
        except StorageError:
            pass  # location down: the object stays incomplete and gc removes it later

    # -- reading ----------------------------------------------------------------------------

    def read_inventory(self, object_id: str) -> dict[str, Any]:
        """The root inventory of ``object_id``, checked against its sidecar (§3.5.6)."""
        root = self.object_root(object_id)
        body = self._read_small(f"{root}/{INVENTORY}", object_id)
        actual = hashlib.sha512(body).hexdigest()
        expected = self._sidecar_digest(f"{root}/{SIDECAR}")
        data = _parse_inventory(root, body)
        if expected != actual:
            # An update interrupted between the root inventory and its sidecar: the
            # version's own sidecar vouches for the same bytes.
            head = data.get("head") if isinstance(data, dict) else None
            if not (head and _VERSION_PATTERN.match(head)
                    and self._sidecar_digest(f"{root}/{head}/{SIDECAR}") == actual):
                raise DigestMismatch(f"{root}/{INVENTORY}", DIGEST_ALGORITHM, expected or "", actual)
        return _of_object(root, data, object_id)

    def read_inventory_files(self, object_id: str) -> tuple[bytes, bytes, dict[str, Any]]:
        """The root inventory and its sidecar as stored, and the inventory parsed; a pair
        that disagree is refused (DigestMismatch), with no allowance for an interrupted
        update: what a copy must reproduce byte for byte (storage/replicas.py)."""
        root = self.object_root(object_id)
        body = self._read_small(f"{root}/{INVENTORY}", object_id)
        with self.storage.open(f"{root}/{SIDECAR}") as stream:
            sidecar = stream.read()
        actual = hashlib.sha512(body).hexdigest()
        parts = sidecar.decode("utf-8", "replace").split()
        if not parts or parts[0].lower() != actual:
            raise DigestMismatch(f"{self.storage.name}: {root}/{INVENTORY}", DIGEST_ALGORITHM,
                                 parts[0] if parts else "", actual)
        return body, sidecar, _of_object(root, _parse_inventory(root, body), object_id)

    def inventory(self, object_id: str) -> Inventory:
        return Inventory(self.read_inventory(object_id))

    def _read_small(self, key: str, object_id: str) -> bytes:
        try:
            with self.storage.open(key) as stream:
                return stream.read()
        except NotFound:
            raise NotFound(f"no OCFL object {object_id!r} in {self.storage.name}") from None

    def _sidecar_digest(self, key: str) -> str | None:
        try:
            with self.storage.open(key) as stream:
                text = stream.read(4096).decode("utf-8", "replace")
        except NotFound:
            return None
        parts = text.split()
        return parts[0].lower() if len(parts) == 2 and parts[1] == INVENTORY else None

    def exists(self, object_id: str) -> bool:
        return self.storage.exists(f"{self.object_root(object_id)}/{INVENTORY}")

    def open_file(self, object_id: str, logical_path: str, version: str | None = None,
                  start: int | None = None, end: int | None = None) -> BinaryIO:
        """A stream of one file of a version (default head), or of bytes start..end."""
        inventory = self.inventory(object_id)
        content_path = inventory.content_path(logical_path, version)
        return self.storage.open(f"{self.object_root(object_id)}/{content_path}",
                                 start=start, end=end)

    def list_objects(self) -> Iterator[str]:
        """Identifiers of every complete object (a declaration and a root inventory)."""
        for root, names, _ in self._scan():
            if INVENTORY in names and OBJECT_DECLARATION in names:
                with self.storage.open(f"{root}/{INVENTORY}") as stream:
                    yield json.load(stream)["id"]

    def _scan(self) -> Iterator[tuple[str, set[str], dict[str, datetime]]]:
        """(object root, names of files directly in it, newest time per top-level entry)."""
        roots: dict[str, tuple[set[str], dict[str, datetime]]] = {}
        for info in self.storage.list_info(""):
            parts = info.key.split("/")
            if len(parts) < 5:
                continue  # storage root files and extensions/
            root = "/".join(parts[:4])
            if not _ROOT_PATTERN.match(root):
                continue
            names, times = roots.setdefault(root, (set(), {}))
            if len(parts) == 5:
                names.add(parts[4])
            entry = parts[4]
            if entry not in times or info.last_modified > times[entry]:
                times[entry] = info.last_modified
        for root in sorted(roots):
            names, times = roots[root]
            yield root, names, times

    def incomplete_objects(self) -> list[IncompleteObject]:
        """Object roots without a root inventory, and version folders beyond the head."""
        found = []
        for root, names, times in self._scan():
            newest = max(times.values())
            if INVENTORY not in names:
                found.append(IncompleteObject(f"{root}/", newest, "no root inventory"))
                continue
            try:
                with self.storage.open(f"{root}/{INVENTORY}") as stream:
                    head = json.load(stream).get("head", "")
            except (ValueError, StorageError):
                continue
            match = _VERSION_PATTERN.match(head)
            if not match:
                continue
            for entry, when in times.items():
                other = _VERSION_PATTERN.match(entry)
                if other and int(other.group(1)) > int(match.group(1)):
                    found.append(IncompleteObject(f"{root}/{entry}/", when,
                                                  f"version {entry} beyond head {head}"))
        return found

    # -- removing ---------------------------------------------------------------------------

    def delete_object(self, object_id: str) -> int:
        """Remove an object entirely; returns how many files went. NotFound if absent."""
        root = self.object_root(object_id)
        if not self.storage.exists(f"{root}/{INVENTORY}"):
            raise NotFound(f"no OCFL object {object_id!r} in {self.storage.name}")
        # The root inventory goes first, so an interrupted delete is an incomplete object.
        self.storage.delete(f"{root}/{INVENTORY}")
        return 1 + self.storage.delete_prefix(f"{root}/")

    def collect_garbage(self, older_than: timedelta, *, dry_run: bool = False,
                        now: datetime | None = None) -> list[IncompleteObject]:
        """Remove incomplete objects and unfinished versions untouched for ``older_than``.

        The grace period protects writes still in progress. Returns what was (or, with
        ``dry_run``, would be) removed.
        """
        cutoff = (now or datetime.now(timezone.utc)) - older_than
        stale = [item for item in self.incomplete_objects() if item.last_modified <= cutoff]
        if not dry_run:
            for item in stale:
                self.delete_incomplete(item)
            abort = getattr(self.storage, "abort_stale_uploads", None)
            if abort is not None:  # S3: parts of uploads whose abort failed still use space
                abort(cutoff)
        return stale

    def rollback_version(self, object_id: str, version: str) -> None:
        """Undo the head ``version`` (v2 or later) just written, e.g. when registering it failed.

        The root inventory goes back to the previous version's (its bytes, so the result is
        the object as it was), then the version folder is removed.
        """
        current = self.inventory(object_id)
        match = _VERSION_PATTERN.match(version)
        if current.head != version or not match:
            raise StorageError(f"{object_id}: can only roll back the head version "
                               f"{current.head!r}, not {version!r}")
        if version == "v1":
            raise StorageError(f"{object_id}: v1 cannot be rolled back; delete the object")
        root = self.object_root(object_id)
        previous = f"v{int(match.group(1)) - 1}"
        body = self._read_small(f"{root}/{previous}/{INVENTORY}", object_id)
        sidecar = self._read_small(f"{root}/{previous}/{SIDECAR}", object_id)
        # Same order as an update: read_inventory accepts the window between the two.
        self._put_bytes(f"{root}/{INVENTORY}", body)
        self._put_bytes(f"{root}/{SIDECAR}", sidecar)
        self.storage.delete_prefix(f"{root}/{version}/")

    def delete_incomplete(self, item: IncompleteObject) -> int:
        """Remove what `incomplete_objects` reported; returns how many files went."""
        return self.storage.delete_prefix(item.prefix)
