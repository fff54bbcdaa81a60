"""Validate a BagIt bag (RFC 8493, versions 0.93–1.0), collecting every problem.

The payload is read once: each file is hashed with every manifest algorithm in the same
pass, files spread over a process pool in batches so small files cost little.
"""
from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from repository.errors import Problem, UsageError, ValidationReport
from repository.forking import fork_context
from repository.bagit.bag import (
    MANIFEST_RE, TAGMANIFEST_RE, Bag, FetchEntry, PayloadFile, decode_tag_file,
    err, hash_constructor, last_line_unterminated, line_endings, nfc,
    nfc_all, parse_fetch, parse_manifest, parse_tags, read_bag_declaration, scan_files,
    strict_rules, system_files, warn)

CHUNK = 1024 * 1024
FIRST_READ = 64 * 1024           # most payload files of a large bag are smaller than this
BATCH_BYTES = 8 * 1024 * 1024    # a batch of small files is worth one pool task
BATCH_FILES = 500
POOL_MIN_BYTES = 16 * 1024 * 1024
POOL_MIN_FILES = 200
STAT_MAX_FILES = 5000            # above this, sizes come from the hashing workers
THREAD_MIN_AVERAGE = 256 * 1024  # files this large on average are hashed in threads


@dataclass
class BagValidation:
    """The outcome of validating one bag: every problem, what was read, the description."""

    report: ValidationReport
    bag: Bag
    dublin_core: dict | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.report.valid

    @property
    def incomplete(self) -> bool:
        return self.bag.incomplete


# --- hashing ------------------------------------------------------------------------

@dataclass
class HashedFiles:
    """What hash_files read: algorithm -> {name: hex digest}, name -> size, name -> error."""

    digests: dict[str, dict[str, str]]
    sizes: dict[str, int]
    errors: dict[str, str]


def _hash_batch(job: tuple[int, str, list[str], tuple[str, ...]]):
    """Hash each file of a batch with every algorithm in one read (runs in a worker).

    Returns (batch number, one list of digests per algorithm, sizes, {index: error}): plain
    lists in the batch's order, so the answer costs little to send back."""
    number, root, names, algorithms = job
    ctors = [hash_constructor(a) for a in algorithms]
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    digests: list[list[str | None]] = [[] for _ in algorithms]
    sizes: list[int] = []
    errors: dict[int, str] = {}
    for i, name in enumerate(names):
        hashers = [c() for c in ctors]
        size = 0
        try:
            fd = os.open(os.path.join(root, name), flags)
            try:
                # One small read finishes a small file; only a larger one gets the reusable
                # 1 MiB buffer (and read-ahead advice, for a cold cache).
                data = os.read(fd, FIRST_READ)
                size = len(data)
                for h in hashers:
                    h.update(data)
                if size == FIRST_READ and hasattr(os, "posix_fadvise"):
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
                while data and (n := os.readv(fd, (buf,))):   # to the end, not to st_size
                    chunk = view[:n]
                    for h in hashers:
                        h.update(chunk)
                    size += n
            finally:
                os.close(fd)
        except OSError as exc:
            errors[i] = exc.strerror or str(exc)
            sizes.append(-1)
            for column in digests:
                column.append(None)
            continue
        sizes.append(size)
        for column, h in zip(digests, hashers):
            column.append(h.hexdigest())
    return number, digests, sizes, errors


def _batches(items: list[tuple[str, int]], processes: int) -> list[list[str]]:
    """Names in pool tasks: by bytes when sizes are known (biggest first, so the pool does
    not end waiting on one large file), else by count, a few dozen tasks per worker."""
    if any(size < 0 for _, size in items):
        per = max(1, min(BATCH_FILES, len(items) // (processes * 32)))
        names = [name for name, _ in items]
        return [names[i:i + per] for i in range(0, len(names), per)]
    batches: list[tuple[int, list[str]]] = []
    current: list[str] = []
    size = 0
    for name, bytes_ in sorted(items):
        if bytes_ >= BATCH_BYTES:
            batches.append((bytes_, [name]))
            continue
        current.append(name)
        size += bytes_
        if size >= BATCH_BYTES or len(current) >= BATCH_FILES:
            batches.append((size, current))
            current, size = [], 0
    if current:
        batches.append((size, current))
    batches.sort(key=lambda b: -b[0])
    return [names for _, names in batches]


def hash_files(root: Path, items: list[tuple[str, int]], algorithms: Iterable[str],
               processes: int | None = None, meanwhile: Callable[[], None] | None = None,
               ) -> HashedFiles:
    """Read each (name, size) under root once, hashing it with every algorithm; a size of
    -1 means unknown (the answer's sizes are what was read).

    ``meanwhile`` is called once, while the pool works (or before hashing in-process)."""
    algorithms = tuple(algorithms)
    result = HashedFiles({a: {} for a in algorithms}, {}, {})
    if not items or not algorithms:
        if meanwhile:
            meanwhile()
        return result
    processes = processes or os.cpu_count() or 1
    batches = _batches(items, processes)
    total = sum(s for _, s in items)
    small = 0 <= total < POOL_MIN_BYTES and len(items) < POOL_MIN_FILES \
        and all(s >= 0 for _, s in items)

    def collect(done) -> None:
        number, digests, sizes, errors = done
        names = batches[number]
        for algorithm, column in zip(algorithms, digests):
            result.digests[algorithm].update(zip(names, column))
        result.sizes.update(zip(names, sizes))
        for i, error in errors.items():
            result.errors[names[i]] = error

    jobs = [(number, str(root), names, algorithms) for number, names in enumerate(batches)]
    # Large files hash as well in threads (hashlib and read() release the GIL on big
    # buffers), without a pool of processes to start and feed; many small files would spend
    # their time in Python holding the GIL, so they go to processes.
    threads = total >= len(items) * THREAD_MIN_AVERAGE and all(s >= 0 for _, s in items)
    context = None
    if not threads and processes > 1 and len(batches) > 1 and not small:
        context = fork_context()
        threads = context is None  # a server or worker process: threads, never a fork
    if processes <= 1 or len(batches) == 1 or small:
        if meanwhile:
            meanwhile()
        for job in jobs:
            collect(_hash_batch(job))
    elif threads:
        from concurrent.futures import ThreadPoolExecutor, as_completed
        with ThreadPoolExecutor(min(processes, len(batches))) as pool:
            futures = [pool.submit(_hash_batch, job) for job in jobs]
            if meanwhile:
                meanwhile()
            for future in as_completed(futures):
                collect(future.result())
    else:
        with context.Pool(min(processes, len(batches))) as pool:
            pending = pool.imap_unordered(_hash_batch, jobs)
            if meanwhile:
                meanwhile()
            for done in pending:
                collect(done)
    for algorithm in algorithms:  # an unreadable file has no digest
        column = result.digests[algorithm]
        for name in result.errors:
            column.pop(name, None)
    return result


# --- reading the tag files ------------------------------------------------------------

def _read_text(bag: Bag, name: str, problems: list[Problem]) -> str | None:
    raw = (bag.root / name).read_bytes()
    text, decode_problems = decode_tag_file(raw, bag.encoding, name, bag.version_tuple)
    problems.extend(decode_problems)
    if text is not None and len(line_endings(text)) > 1:
        problems.append(warn("K404", name, "mixes CR, LF and CRLF line endings"))
    if text is not None and last_line_unterminated(text):
        problems.append(warn("K405", name, "the last line does not end with a line break"))
    return text


def _read_bag_info(bag: Bag, problems: list[Problem]) -> None:
    # BagIt 0.93–0.95 called the file package-info.txt.
    for name in ("bag-info.txt", "package-info.txt"):
        if (bag.root / name).is_file():
            text = _read_text(bag, name, problems)
            if text is None:
                return
            tags, tag_problems = parse_tags(text, name, bag.version_tuple)
            problems.extend(tag_problems)
            bag.bag_info_elements = [(nfc(label), nfc(value)) for label, value in tags]
            for label, value in tags:
                bag.bag_info.setdefault(nfc(label), []).append(nfc(value))
            return


def _read_manifests(bag: Bag, problems: list[Problem], payload: bool) -> None:
    pattern = MANIFEST_RE if payload else TAGMANIFEST_RE
    target = bag.manifests if payload else bag.tag_manifests
    for child in sorted(bag.root.iterdir()):
        m = pattern.match(child.name)
        if not m or not child.is_file():
            continue
        algorithm = m.group(1).lower()
        if not re.fullmatch(r"[a-z0-9]+", m.group(1)):
            # §2.4: the name is normalised "by lowercasing the common name of the algorithm
            # and removing all non-alphanumeric characters".
            report = err if strict_rules(bag.version_tuple) else warn
            problems.append(report("K206", child.name, f"'{m.group(1)}' is not a normalised "
                                   "algorithm name (lowercase letters and digits only)"))
        if hash_constructor(algorithm) is None:
            problems.append(warn("K202", child.name,
                                 f"algorithm '{algorithm}' is not known; it cannot be checked"))
        text = _read_text(bag, child.name, problems)
        if text is None:
            continue
        entries, line_problems = parse_manifest(text, child.name, algorithm,
                                                bag.version_tuple, payload)
        problems.extend(line_problems)
        listed = dict(entries)
        if len(listed) == len(entries) and len(set(nfc_all(listed))) == len(listed):
            target[algorithm] = listed  # the usual manifest: no path listed twice in any form
            continue
        listed = {}
        by_nfc: dict[str, str] = {}
        for path, digest in entries:
            if path in listed:
                if listed[path] != digest:
                    problems.append(err("K204", child.name,
                                        f"'{path}' is listed twice with different digests"))
                elif bag.version_tuple >= (1, 0):
                    # RFC 8493 §2.1.3: a file is listed once; earlier drafts did not say.
                    problems.append(err("K203", child.name, f"'{path}' is listed twice"))
                else:
                    problems.append(warn("K203", child.name, f"'{path}' is listed twice"))
                continue
            key = nfc(path)
            if key in by_nfc and by_nfc[key] != path:
                # Two files may really exist under both forms (Linux keeps them apart); the
                # digest check against the disk decides, so this is only worth a warning.
                problems.append(warn("K601", child.name,
                                     f"'{key}' is listed twice in two Unicode normalisations"))
            by_nfc.setdefault(key, path)
            listed[path] = digest
        target[algorithm] = listed


# --- matching manifest names to files on disk ------------------------------------------

class _NameIndex:
    """Finds a file on disk for a manifest name: exact, then NFC-equal, then case-folded."""

    def __init__(self, names: Iterable[str]):
        self.names = set(names)
        self._by_nfc: dict[str, list[str]] | None = None
        self._by_fold: dict[str, list[str]] | None = None

    def _build(self) -> None:
        # Only a manifest name that is not on disk as written, or names that clash, need
        # these maps: most bags never build them.
        self._by_nfc, self._by_fold = defaultdict(list), defaultdict(list)
        for name in self.names:
            self._by_nfc[nfc(name)].append(name)
            self._by_fold[nfc(name).casefold()].append(name)

    @property
    def by_nfc(self) -> dict[str, list[str]]:
        if self._by_nfc is None:
            self._build()
        return self._by_nfc

    @property
    def by_fold(self) -> dict[str, list[str]]:
        if self._by_fold is None:
            self._build()
        return self._by_fold

    def clashes(self) -> list[list[str]]:
        """Groups of names that differ only by case or Unicode normalisation."""
        if len(set(map(str.casefold, nfc_all(self.names)))) == len(self.names):
            return []
        return [group for group in self.by_fold.values() if len(group) > 1]

    def find(self, name: str) -> tuple[str | None, str | None]:
        if name in self.names:
            return name, None
        same = self.by_nfc.get(nfc(name), [])
        if len(same) == 1:
            return same[0], "normalisation"
        folded = self.by_fold.get(nfc(name).casefold(), [])
        if len(folded) == 1:
            return folded[0], "case"
        return None, None


def _check_disk_names(index: _NameIndex, problems: list[Problem]) -> None:
    for group in index.clashes():
        problems.append(warn("K604", sorted(group)[0],
                             "these files differ only by case or Unicode normalisation: "
                             + ", ".join(sorted(group))))
    for name in sorted(system_files(index.names)):
        problems.append(warn("K605", name, "is an operating-system file (not content?)"))


@dataclass
class _Expected:
    """The digests the manifests expect of the files on disk."""

    # algorithm -> file on disk -> digest; every payload manifest has an entry, even empty.
    by_algorithm: dict[str, dict[str, str]]
    # (file, algorithm, digest) of a second listing of one file (in another normalisation).
    more: list[tuple[str, str, str]]
    missing_fetch: list[FetchEntry]

    def listed(self) -> set[str]:
        """Every file on disk some payload manifest lists."""
        return set().union(*self.by_algorithm.values())

    def digests_of(self, name: str) -> dict[str, str]:
        """algorithm -> the digest a file is listed with (the least, if listed twice)."""
        digests = {a: m[name] for a, m in self.by_algorithm.items() if name in m}
        for other, algorithm, digest in self.more:
            if other == name:
                digests[algorithm] = min(digests[algorithm], digest)
        return digests


def _match_manifests(bag: Bag, index: _NameIndex, disk: dict[str, int],
                     problems: list[Problem]) -> _Expected:
    """Match every manifest entry with a file on disk; missing, unlisted and fetched-later
    files reported (the Payload-Oxum waits for the sizes: _check_oxum)."""
    fetch_paths = {nfc(f.path): f for f in bag.fetch}
    expected = _Expected({}, [], [])
    missing_fetch: dict[str, FetchEntry] = {}
    for algorithm, listed in bag.manifests.items():
        manifest = f"manifest-{algorithm}.txt"
        misses = [path for path in listed if path not in index.names]
        if not misses:
            expected.by_algorithm[algorithm] = listed   # read only from here on
            continue
        missed = set(misses)
        found_map = {path: d for path, d in listed.items() if path not in missed}
        expected.by_algorithm[algorithm] = found_map
        for path in misses:
            digest = listed[path]
            found, how = index.find(path)
            if found is None:
                if (bag.root / path).is_dir():
                    problems.append(err("K228", path, f"{manifest} lists a folder; manifests "
                                        "list files only"))
                elif nfc(path) in fetch_paths:
                    missing_fetch[nfc(path)] = fetch_paths[nfc(path)]
                else:
                    problems.append(err("K301", path, f"is listed in {manifest} but missing"))
                continue
            if how == "normalisation":
                problems.append(warn("K602", path, f"{manifest} names it in a different Unicode "
                                     f"normalisation from the file on disk '{found}'"))
            elif how == "case":
                problems.append(warn("K603", path, f"{manifest} names it with different case "
                                     f"from the file on disk '{found}'"))
            if found in found_map:
                expected.more.append((found, algorithm, digest))
            else:
                found_map[found] = digest
    listed_any = expected.listed()
    unlisted = disk.keys() - listed_any
    partial = {a: listed_any - m.keys() for a, m in expected.by_algorithm.items()}
    strict = strict_rules(bag.version_tuple)
    for name in sorted(unlisted.union(*partial.values())):
        if name in unlisted:
            problems.append(err("K302", name, "is in the payload but in no manifest"))
            continue
        for algorithm, not_in in partial.items():
            if name in not_in:
                # §3: "For BagIt 1.0, every payload file MUST be listed in every payload
                # manifest"; older versions allowed one manifest per file.
                report = err if strict else warn
                problems.append(report("K304", name,
                                       f"is not listed in manifest-{algorithm}.txt"))
    if missing_fetch:
        bag.incomplete = True
        for path in sorted(missing_fetch):
            problems.append(warn("K501", path, "is listed in fetch.txt but not present: the bag "
                                 "is incomplete (Kho fetches only with --allow-fetch)"))
    expected.missing_fetch = list(missing_fetch.values())
    return expected


def _compare_digests(expected: _Expected, hashed: HashedFiles, problems: list[Problem]) -> None:
    """K303 for each listed digest the file's bytes do not have, K307 for unreadable files."""
    wrong: dict[str, list[str]] = defaultdict(list)
    for algorithm, wanted in expected.by_algorithm.items():
        got = hashed.digests.get(algorithm)
        if got is not None:
            for name in [n for n, d in wanted.items() if got.get(n) != d]:
                wrong[name].append(algorithm)
    for name, algorithm, digest in expected.more:
        got = hashed.digests.get(algorithm)
        if got is not None and got.get(name) != digest:
            wrong[name].append(algorithm)
    if hashed.errors:
        listed = expected.listed()
        for name in hashed.errors:
            if name in listed:
                wrong.setdefault(name, [])
    for name in sorted(wrong):
        if name in hashed.errors:
            problems.append(err("K307", name, f"cannot be read ({hashed.errors[name]})"))
            continue
        for algorithm in wrong[name]:
            problems.append(err("K303", name, f"{algorithm} digest does not match "
                                f"manifest-{algorithm}.txt"))


def _stat_sizes(root: Path, disk: dict[str, int]) -> None:
    """Fill in the sizes not known yet (-1) from lstat(); 0 if even that fails."""
    for name, size in disk.items():
        if size < 0:
            try:
                disk[name] = os.lstat(root / name).st_size
            except OSError:
                disk[name] = 0


def _check_oxum(bag: Bag, disk: dict[str, int], missing_fetch: list[FetchEntry],
                problems: list[Problem]) -> None:
    # Reserved element names are case-insensitive (RFC 8493 §2.2.2); giving it twice is
    # reported by parse_tags.
    values = [v for label, vs in bag.bag_info.items() if label.lower() == "payload-oxum"
              for v in vs]
    if not values:
        return
    m = re.fullmatch(r"([0-9]+)\.([0-9]+)", values[0].strip())
    if not m:
        problems.append(err("K311", "bag-info.txt",
                            f"Payload-Oxum '{values[0]}' is not OCTETCOUNT.STREAMCOUNT"))
        return
    octets, streams = sum(disk.values()), len(disk)
    if missing_fetch:
        if any(f.length is None for f in missing_fetch):
            return  # sizes unknown until fetched
        octets += sum(f.length or 0 for f in missing_fetch)
        streams += len(missing_fetch)
    if (int(m.group(1)), int(m.group(2))) != (octets, streams):
        problems.append(err("K310", "bag-info.txt",
                            f"Payload-Oxum says {m.group(1)} bytes in {m.group(2)} files, "
                            f"the payload has {octets} bytes in {streams} files"))


def _check_tag_manifest_lists(bag: Bag, problems: list[Problem]) -> None:
    """What each tag manifest must and should list (RFC 8493 §2.2.1)."""
    if not bag.tag_manifests:
        return
    strict = strict_rules(bag.version_tuple)
    report = err if strict else warn
    payload_manifests = {p.name for p in bag.root.iterdir()
                         if MANIFEST_RE.match(p.name) and p.is_file()}
    tag_files = _tag_files_on_disk(bag.root)
    sets = {}
    for algorithm, entries in sorted(bag.tag_manifests.items()):
        name = f"tagmanifest-{algorithm}.txt"
        listed = set(entries)
        sets[name] = listed
        for manifest in sorted(payload_manifests - listed):
            problems.append(report("K232", name, f"does not list the payload manifest {manifest}"))
        for path in sorted(p for p in listed if TAGMANIFEST_RE.fullmatch(p)):
            problems.append(report("K233", name, f"lists the tag manifest {path}"))
        unlisted = sorted(tag_files - listed - payload_manifests)
        if unlisted:
            problems.append(warn("K234", name, "does not list these tag files: "
                                 + ", ".join(unlisted[:10]) + (" …" if len(unlisted) > 10 else "")))
        if algorithm not in bag.manifests:
            problems.append(warn("K236", name, f"uses {algorithm}, which no payload manifest "
                                 "uses"))
    if len({frozenset(v) for v in sets.values()}) > 1:
        problems.append(warn("K235", ".", "the tag manifests list different sets of tag files: "
                             + ", ".join(sorted(sets))))


def _tag_files_on_disk(root: Path) -> set[str]:
    """Every file outside data/ but the tag manifests (the bag's tag files)."""
    found: set[str] = set()
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            entries = list(os.scandir(root / rel if rel else root))
        except OSError:
            continue
        for entry in entries:
            name = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if name != "data":
                    stack.append(name)
            elif not TAGMANIFEST_RE.fullmatch(name):
                found.add(name)
    return found


def _verify_tag_manifests(bag: Bag, problems: list[Problem]) -> None:
    for algorithm, entries in bag.tag_manifests.items():
        name = f"tagmanifest-{algorithm}.txt"
        if hash_constructor(algorithm) is None:
            continue
        found = {}
        root = bag.root.resolve()
        for path in entries:
            full = bag.root / path
            if full.is_symlink() or root not in full.resolve().parents:
                problems.append(err("K306", path, "is a symbolic link or leads out of the bag"))
            elif not full.is_file():
                problems.append(err("K230", name, f"lists '{path}', which is not in the bag"))
            else:
                found[path] = full.stat().st_size
        hashed = hash_files(bag.root, list(found.items()), [algorithm], processes=1)
        for path in sorted(found):
            if path in hashed.errors:
                problems.append(err("K307", path, f"cannot be read ({hashed.errors[path]})"))
            elif hashed.digests[algorithm][path] != entries[path]:
                problems.append(err("K231", path, f"{algorithm} digest does not match {name}"))


# --- the validator ------------------------------------------------------------------

def validate_bag(bag_root: Path, *, settings=None, profile=None, allow_fetch: bool = False,
                 processes: int | None = None, serialization: str | None = None,
                 verify_payload: bool = True) -> BagValidation:
    """Check a bag folder against RFC 8493 (and a BagIt-Profile if given); never fetches
    unless ``allow_fetch``.

    ``verify_payload=False`` checks everything but the payload digests: ingest compares
    those while copying into storage, so each file is read once.
    """
    root = Path(bag_root)
    if not root.is_dir():
        raise UsageError(f"{root}: no such bag folder")
    bag = Bag(root=root)
    problems: list[Problem] = []

    for child in sorted(root.iterdir()):
        if child.is_symlink():  # a tag file or data/ pointing elsewhere would be read from there
            problems.append(err("K306", child.name, "is a symbolic link; bags must hold real files"))
    bag.version, bag.encoding, declaration = read_bag_declaration(root)
    problems += declaration
    if not (root / "data").is_dir():
        problems.append(err("K109", "data", "the payload folder data/ is missing"))
    tag_file_problems: list[Problem] = []

    def read_tag_files() -> None:
        _read_tag_files(bag, tag_file_problems, settings, allow_fetch)

    # The payload's reading needs only the algorithms, named by the manifests' file names: it
    # starts before the manifests are parsed, which happens while the pool works.  A bag with
    # fetch.txt is read first, as --allow-fetch may add payload files.
    early = (root / "fetch.txt").is_file()
    if early:
        read_tag_files()
        algorithms = [a for a in bag.manifests if hash_constructor(a) is not None]
    else:
        algorithms = sorted({m.group(1).lower() for p in root.iterdir()
                             if (m := MANIFEST_RE.match(p.name)) and p.is_file()
                             and hash_constructor(m.group(1).lower()) is not None})
    if not verify_payload:
        algorithms = []
    disk: dict[str, int] = {}
    scan_problems: list[Problem] = []
    if (root / "data").is_dir():
        # Hashing learns each size as it reads; only a few files are worth a stat() first,
        # so that the pool can start with the largest.
        disk, scan_problems = scan_files(root, "data", sizes=not algorithms)
        if algorithms and len(disk) <= STAT_MAX_FILES:
            _stat_sizes(root, disk)
    lists_problems: list[Problem] = []
    tag_problems: list[Problem] = []
    expected = _Expected({}, [], [])

    def check_lists() -> None:
        # Runs while the pool hashes: tag files, names, manifests against the disk.
        if not early:
            read_tag_files()
        index = _NameIndex(disk)
        _check_disk_names(index, lists_problems)
        matched = _match_manifests(bag, index, disk, lists_problems)
        expected.by_algorithm, expected.more = matched.by_algorithm, matched.more
        expected.missing_fetch = matched.missing_fetch
        _check_tag_manifest_lists(bag, tag_problems)
        _verify_tag_manifests(bag, tag_problems)
        listed = expected.listed()
        bag.payload = [PayloadFile(root=root, name=name, size=disk[name],
                                   digests=expected.digests_of(name))
                       for name in sorted(disk) if name in listed]  # sizes of -1 filled below

    if processes is None and settings is not None:
        processes = getattr(settings, "validate_processes", 0) or None
    hashed = hash_files(root, list(disk.items()), algorithms, processes, meanwhile=check_lists)
    for name, size in disk.items():
        if size < 0:
            disk[name] = hashed.sizes.get(name, -1)
    if hashed.errors:
        _stat_sizes(root, disk)   # what an unreadable file's directory entry says
    problems += tag_file_problems + scan_problems + lists_problems
    _check_oxum(bag, disk, expected.missing_fetch, problems)
    problems += tag_problems
    _compare_digests(expected, hashed, problems)

    for payload_file in bag.payload:
        if payload_file.size < 0:
            payload_file.size = disk[payload_file.name]

    report = ValidationReport()
    report.extend(problems)
    if any(p.code == "K101" for p in report.errors):
        from repository.ingest.unpack import where_are_the_bags
        report.summary = where_are_the_bags(root)
    result = BagValidation(report=report, bag=bag)
    if profile is not None:
        from repository.ingest.profile import check_profile
        report.extend(check_profile(bag, profile, serialization=serialization))
    if not any(p.code in {"K101", "K103", "K109", "K201"} for p in report.errors):
        result.dublin_core = _describe(bag, report)
    return result


def _read_tag_files(bag: Bag, problems: list[Problem], settings, allow_fetch: bool) -> None:
    """bag-info, manifests, tag manifests and fetch.txt (downloading what it lists if asked)."""
    root = bag.root
    _read_bag_info(bag, problems)
    _read_manifests(bag, problems, payload=True)
    _read_manifests(bag, problems, payload=False)
    if not bag.manifests:
        problems.append(err("K201", ".", "there is no payload manifest (manifest-ALG.txt)"))
    elif not any(hash_constructor(a) for a in bag.manifests):
        problems.append(err("K205", ".", "no payload manifest uses an algorithm Kho can check"))
    bag.tag_files = sorted(p.name for p in root.iterdir()
                           if p.is_file() and p.name != "data")

    if (root / "fetch.txt").is_file():
        text = _read_text(bag, "fetch.txt", problems)
        if text is not None:
            bag.fetch, fetch_problems = parse_fetch(text, bag.version_tuple)
            problems += fetch_problems
        for entry in bag.fetch:
            for algorithm, listed in bag.manifests.items():
                if entry.path not in listed:
                    problems.append(err("K505", "fetch.txt",
                                        f"'{entry.path}' is not in manifest-{algorithm}.txt"))
        if allow_fetch:
            _fetch_missing(bag, settings, problems)


def _describe(bag: Bag, report: ValidationReport) -> dict | None:
    """The Dublin Core record (metadata room), its problems added to the report."""
    # Shortcut for speed (importing jsonschema costs ~0.15 s per `kho validate`): with none
    # of the metadata room's sources present, read_dublin_core returns (None, []).
    if not any(label.lower().startswith("dc-") for label in bag.bag_info) and not any(
            (bag.root / "metadata" / name).exists() for name in ("dc.json", "dc.xml")):
        return None
    from repository.metadata import read_dublin_core  # lazy: jsonschema is slow to import
    record, problems = read_dublin_core(bag.root, bag.bag_info)
    report.extend(problems)
    return record


def _fetch_missing(bag: Bag, settings, problems: list[Problem]) -> None:
    from repository.errors import KhoError
    from repository.ingest.fetch import fetch_file
    max_bytes = getattr(settings, "fetch_max_bytes", 10 * 1024**3)
    for entry in bag.fetch:
        target = bag.root / entry.path
        if target.exists() or target.is_symlink():
            continue
        digests = {a: listed[entry.path] for a, listed in bag.manifests.items()
                   if entry.path in listed and hash_constructor(a) is not None}
        try:
            fetch_file(entry.url, bag.root, entry.path, length=entry.length,
                       digests=digests, max_bytes=max_bytes)
        except KhoError as exc:
            problems.append(err("K506", entry.path, f"could not be fetched: {exc}"))


def validate_path(path: Path, *, settings, profile=None, allow_fetch: bool = False,
                  processes: int | None = None) -> BagValidation:
    """Validate a bag folder or archive (.zip, .tar, .tar.gz, .tgz), unpacking into staging."""
    path = Path(path)
    if path.is_dir():  # as unpacked() would yield it, without importing the archive readers
        return validate_bag(path, settings=settings, profile=profile, allow_fetch=allow_fetch,
                            processes=processes)
    from repository.ingest.unpack import serialization_of, unpacked
    with unpacked(path, settings) as bag_root:
        return validate_bag(bag_root, settings=settings, profile=profile,
                            allow_fetch=allow_fetch, processes=processes,
                            serialization=serialization_of(path))
