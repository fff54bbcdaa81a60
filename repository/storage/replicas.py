"""Replicas: the replication policy (``storage_config/replication.toml``) and copying one
OCFL object from one location to another, verified against its inventory.

Storage knows no catalogue: callers (ingest, `kho replicate`, fixity's repair) record what
these functions report. A copy is written the way the OCFL writer writes an object
(ocfl.py): content first, then the version inventories, the declaration and, last, the root
inventory, so a crash leaves an incomplete object that the next run finishes (files already
there with the right size are kept and verified) and readers never take for complete.
"""
from __future__ import annotations

import hashlib
import io
import os
import tomllib
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from repository.config import Settings
from repository.errors import ConfigurationError, DigestMismatch, KhoError, NotFound, StorageError

from .base import Storage
from .digests import digest_stream, fastest_strong_algorithms, normalise_algorithm
from .ocfl import (DIGEST_ALGORITHM, INVENTORY, OBJECT_DECLARATION, SIDECAR, OcflStore,
                   _VERSION_PATTERN, object_root_for)

REPLICATION_FILE = "replication.toml"
VERIFIED, PENDING, FAILED = "verified", "pending", "failed"


# -- the policy ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReplicationPolicy:
    """Which locations must each hold a copy: a default list and per-collection overrides."""

    default: tuple[str, ...]
    collections: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source: Path | None = None

    def locations_for(self, collection: str) -> tuple[str, ...]:
        """The locations a collection's AIPs must be in (its override, else the default)."""
        return self.collections.get(unicodedata.normalize("NFC", collection), self.default)


def load_policy(settings: Settings, known_locations: Iterable[str] | None = None
                ) -> ReplicationPolicy | None:
    """The policy in ``storage_config/replication.toml``, or None when there is no such file
    (then each AIP has one copy, in the location it was ingested to, as before)."""
    path = Path(settings.storage_config_dir) / REPLICATION_FILE
    if not path.is_file():
        return None
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"{path}: cannot read the replication policy: {exc}") from exc
    if known_locations is None:
        from .locations import load_locations
        known_locations = load_locations(settings)
    known = set(known_locations)

    def fail(problem: str) -> ConfigurationError:
        return ConfigurationError(f"{path}: {problem}")

    unknown = set(document) - {"default", "collections"}
    if unknown:
        raise fail(f"unexpected top-level entries {sorted(unknown)}; "
                   'use [default] and [collections."NAME"]')

    def location_list(table: Any, where: str) -> tuple[str, ...]:
        if not isinstance(table, dict) or set(table) != {"locations"}:
            raise fail(f"[{where}] must hold exactly one setting: locations = [\"…\", …]")
        names = table["locations"]
        if (not isinstance(names, list) or not names
                or not all(isinstance(n, str) and n for n in names)):
            raise fail(f"[{where}] locations must be a non-empty list of location names")
        names = [unicodedata.normalize("NFC", n) for n in names]
        if len(set(names)) != len(names):
            raise fail(f"[{where}] names a location twice: {names}")
        missing = [n for n in names if n not in known]
        if missing:
            raise fail(f"[{where}] names unknown location(s) {missing} "
                       f"(known: {', '.join(sorted(known))})")
        return tuple(names)

    if "default" not in document:
        raise fail('a [default] table is required: [default] locations = ["local", "offsite"]')
    default = location_list(document["default"], "default")
    collections: dict[str, tuple[str, ...]] = {}
    tables = document.get("collections", {})
    if not isinstance(tables, dict):
        raise fail('collections must be tables: [collections."Hán Nôm"]')
    for name, table in tables.items():
        key = unicodedata.normalize("NFC", name)
        if key in collections:
            raise fail(f'[collections."{name}"] is given twice (same name once NFC-normalised)')
        collections[key] = location_list(table, f'collections."{name}"')
    return ReplicationPolicy(default, collections, path)


# -- copying one object ------------------------------------------------------------------------

@dataclass
class CopyOutcome:
    """What copying (or just verifying) one object into one location found."""

    location: str
    state: str                      # verified | failed
    version: int = 0                # the head that was copied and verified
    files_copied: int = 0
    bytes_copied: int = 0
    files_verified: int = 0
    detail: str = ""
    verified_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"location": self.location, "state": self.state, "version": self.version,
                "files_copied": self.files_copied, "bytes_copied": self.bytes_copied,
                "files_verified": self.files_verified, "detail": self.detail,
                "verified_at": self.verified_at.isoformat() if self.verified_at else None}


def copy_workers(storage: Storage) -> int:
    """Files copied at once: S3 hides its latency behind more of them."""
    cores = os.cpu_count() or 1
    return max(4, cores * 2) if storage.kind == "s3" else max(2, cores)


def replicate_object(source: Storage, target: Storage, ocfl_id: str, *,
                     workers: int | None = None, verify: bool = True) -> CopyOutcome:
    """Bring ``target``'s copy of ``ocfl_id`` up to ``source``'s head, then verify it.

    Only what the target lacks is copied (a new version, or what a crash left unwritten);
    each file is streamed once, then read back from the target and its digest checked
    against the inventory (``verify``; the fastest strong one it records, see
    ``_check_digests``), as is every file an earlier run left there. What proves the copy
    is that read-back, so the bytes are hashed there only: a file that fails it is removed
    from the target before the copy is reported failed. Without ``verify`` the sha512 is
    checked while the file is written instead.
    A target copy that is damaged, diverged or ahead of the source is not touched: the
    outcome is *failed* with the reason (damage is `kho repair`'s business).
    """
    outcome = CopyOutcome(target.name, FAILED)
    root = object_root_for(ocfl_id)
    try:
        body, sidecar, inventory = OcflStore(source).read_inventory_files(ocfl_id)
        head = inventory["head"]
        outcome.version = int(head[1:])
        OcflStore(target).ensure_storage_root()
        existing = {info.key[len(root) + 1:]: info.size
                    for info in target.list_info(root + "/")}
        committed = _committed_paths(target, root, ocfl_id, existing, inventory)
        sizes = {info.key[len(root) + 1:]: info.size for info in source.list_info(root + "/")}
        jobs = []
        check_digests = _check_digests(inventory)
        for digest, paths in inventory["manifest"].items():
            for path in paths:
                if path not in sizes:
                    raise NotFound(f"{source.name}: {root}/{path} is missing: "
                                   "the source copy is damaged; run kho repair first")
                present = existing.get(path) == sizes[path]  # an earlier (interrupted) run's
                if not present and path in committed:
                    raise StorageError(f"{target.name}: {root}/{path} differs from the source "
                                       "in a committed version; run kho repair")
                jobs.append((path, sizes[path], digest, not present))
        workers = workers or copy_workers(target)

        def copy_and_verify(job: tuple[str, int, str, bool]) -> int:
            path, size, digest, needed = job
            proof = check_digests.get(path, (DIGEST_ALGORITHM, digest))
            key = f"{root}/{path}"
            if needed:
                _copy_file(source, target, key, size, digest, check=not verify)
            if verify:  # read back at once: this file's read overlaps other files' writes
                try:
                    _verify_file(target, key, *proof)
                except DigestMismatch:
                    if path in committed:
                        raise  # damage in a committed version: kho repair's business
                    if needed:
                        # The source's bytes do not match its inventory (it has rotted, or
                        # the write went wrong): leave nothing uncommitted behind.
                        target.delete(key)
                        raise
                    # Left by an interrupted run with the right size but wrong bytes: copy
                    # it again rather than fail on every later run.
                    _copy_file(source, target, key, size, digest, check=False)
                    needed = True
                    try:
                        _verify_file(target, key, *proof)
                    except DigestMismatch:
                        target.delete(key)
                        raise
            return size if needed else -1

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kho-replicate") as pool:
            for size in pool.map(copy_and_verify, jobs):
                if size >= 0:
                    outcome.files_copied += 1
                    outcome.bytes_copied += size
                outcome.files_verified += verify
        target.sync()  # content is durable before an inventory names it
        # Version inventories (with sidecars), the declaration, then the root inventory last.
        for version in sorted(inventory["versions"], key=lambda v: int(v[1:])):
            for name in (f"{version}/{INVENTORY}", f"{version}/{SIDECAR}"):
                if existing.get(name) != sizes.get(name):
                    _copy_small(source, target, f"{root}/{name}")
        if OBJECT_DECLARATION not in existing:
            _copy_small(source, target, f"{root}/{OBJECT_DECLARATION}")
        if INVENTORY not in existing:
            _put(target, f"{root}/{SIDECAR}", sidecar)
            _put(target, f"{root}/{INVENTORY}", body)
        elif _read(target, f"{root}/{INVENTORY}") != body:
            # Same order as OcflStore._commit for a new version: read_inventory tolerates
            # a crash between the two (the version's own sidecar vouches for the bytes).
            _put(target, f"{root}/{INVENTORY}", body)
            _put(target, f"{root}/{SIDECAR}", sidecar)
        elif _read(target, f"{root}/{SIDECAR}") != sidecar:
            _put(target, f"{root}/{SIDECAR}", sidecar)
        if verify and _read(target, f"{root}/{INVENTORY}") != body:
            raise DigestMismatch(f"{target.name}: {root}/{INVENTORY}", DIGEST_ALGORITHM,
                                 hashlib.sha512(body).hexdigest(), "(differs after writing)")
        outcome.state = VERIFIED
        outcome.verified_at = datetime.now(timezone.utc)
    except (KhoError, OSError, ValueError, KeyError) as exc:
        outcome.state, outcome.detail = FAILED, str(exc) or type(exc).__name__
    return outcome


def _check_digests(inventory: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Content path → (algorithm, digest) to prove its copy with: the fastest strong
    algorithm the inventory records for it (its fixity block holds sha256 for every file
    Kho stored, and sha256 is the fastest where the CPU has SHA instructions), as fixity
    checks do; paths it has none for are left out (sha512, the manifest's, is used)."""
    order = fastest_strong_algorithms()
    fixity = {}
    for name, table in inventory.get("fixity", {}).items():
        try:
            fixity[normalise_algorithm(name)] = table
        except StorageError:  # an algorithm this Python lacks: the manifest's sha512 serves
            continue
    chosen: dict[str, tuple[str, str]] = {}
    for algorithm in reversed(order[:order.index(DIGEST_ALGORITHM)]):  # faster than sha512
        for digest, paths in fixity.get(algorithm, {}).items():
            for path in paths:
                chosen[path] = (algorithm, digest.lower())
    return chosen


def _verify_file(storage: Storage, key: str, algorithm: str, want: str) -> None:
    """Read ``key`` back and compare its ``algorithm`` digest; DigestMismatch if it differs."""
    with storage.open(key) as stream:
        got = digest_stream(stream, (algorithm,))[1][algorithm]
    if got != want:
        raise DigestMismatch(f"{storage.name}: {key}", algorithm, want, got)


def _committed_paths(target: Storage, root: str, ocfl_id: str, existing: Mapping[str, int],
                     source_inventory: dict[str, Any]) -> set[str]:
    """Content paths the target's own root inventory already commits; refuses a target that
    is ahead of the source or has a different history."""
    if INVENTORY not in existing:
        return set()
    _, _, data = OcflStore(target).read_inventory_files(ocfl_id)  # damaged: repair, not copy
    theirs, ours = data.get("head", ""), source_inventory["head"]
    if not _VERSION_PATTERN.match(theirs) or int(theirs[1:]) > int(ours[1:]):
        raise StorageError(f"{target.name}: the copy's head {theirs} is ahead of the source's "
                           f"{ours}; copy the other way round")
    for version, entry in data.get("versions", {}).items():
        if source_inventory["versions"].get(version, {}).get("state") != entry.get("state"):
            raise StorageError(f"{target.name}: version {version} differs from the source's")
    return {p for paths in data.get("manifest", {}).values() for p in paths}


def _copy_file(source: Storage, target: Storage, key: str, size: int, digest: str, *,
               check: bool) -> None:
    with source.open(key) as stream:
        # With ``check`` the sha512 is checked while the bytes pass: a source file that has
        # rotted is never copied (DigestMismatch), and nothing is left under the target key.
        target.put(key, stream, size=size,
                   algorithms=(DIGEST_ALGORITHM,) if check else (),
                   expected={DIGEST_ALGORITHM: digest} if check else None, durable=False)


def _copy_small(source: Storage, target: Storage, key: str) -> None:
    _put(target, key, _read(source, key))


def _read(storage: Storage, key: str) -> bytes:
    with storage.open(key) as stream:
        return stream.read()


def _put(storage: Storage, key: str, data: bytes) -> None:
    storage.put(key, io.BytesIO(data), size=len(data), algorithms=())


def delete_copy(storage: Storage, ocfl_id: str) -> int:
    """Remove a copy made by an ingest that is being undone (root inventory first, as
    OcflStore.delete_object does, so an interrupted removal is an incomplete object)."""
    root = object_root_for(ocfl_id)
    storage.delete(f"{root}/{INVENTORY}")
    return storage.delete_prefix(f"{root}/")


@dataclass
class ReplicaWrites:
    """The copies one ingest made beyond its primary, to record or to undo."""

    primary: CopyOutcome | None = None
    outcomes: list[CopyOutcome] = field(default_factory=list)
    targets: dict[str, Storage] = field(default_factory=dict)
    ocfl_id: str = ""

    def undo(self) -> None:
        """Remove what was copied (registration failed): the object for v1, else the version."""
        for outcome in self.outcomes:
            storage = self.targets[outcome.location]
            try:
                if outcome.version <= 1:
                    delete_copy(storage, self.ocfl_id)
                else:
                    OcflStore(storage).rollback_version(self.ocfl_id, f"v{outcome.version}")
            except KhoError:
                pass  # left incomplete or one version ahead: `kho replicate` reports it


def write_replicas(settings: Settings, primary: Storage, ocfl_id: str, collection: str
                   ) -> ReplicaWrites:
    """After ingest stored ``ocfl_id`` in ``primary``: copy it to every other location the
    policy names for ``collection`` and verify each copy. Without a policy: nothing."""
    from .locations import load_locations
    locations = load_locations(settings)
    policy = load_policy(settings, locations)
    writes = ReplicaWrites(ocfl_id=ocfl_id)
    if policy is None:
        return writes
    head = OcflStore(primary).inventory(ocfl_id).head
    # The primary was hashed against the bag's manifests as it was written (ocfl.py).
    writes.primary = CopyOutcome(primary.name, VERIFIED, int(head[1:]),
                                 verified_at=datetime.now(timezone.utc),
                                 detail="written and hashed against the bag's manifests")
    for name in policy.locations_for(collection):
        if name == primary.name:
            continue
        writes.targets[name] = locations[name]
        writes.outcomes.append(replicate_object(primary, locations[name], ocfl_id))
    return writes
