"""A BagIt bag as read from disk (RFC 8493), and the readers of its tag files.

Reading never raises on a bad bag: every reader returns what it could read plus the
:class:`~repository.errors.Problem` records of what was wrong, so the validator can
report every problem at once.  Codes are listed in docs/validation-codes.md.
"""
from __future__ import annotations

import codecs
import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from repository.errors import Problem

BAGIT_TXT = "bagit.txt"
KNOWN_VERSIONS = {(0, 93), (0, 94), (0, 95), (0, 96), (0, 97), (1, 0)}
MANIFEST_RE = re.compile(r"^manifest-([A-Za-z0-9_-]+)\.txt$")
TAGMANIFEST_RE = re.compile(r"^tagmanifest-([A-Za-z0-9_-]+)\.txt$")
# RFC 8493 §2.1.3: CR, LF and CRLF all end a line.  str.splitlines() would also split on
# \x0b, \x1c, \u2028 ... which may legally appear inside a file name.
LINE_RE = re.compile(r"\r\n|\r|\n")
SYSTEM_FILES = {".ds_store", "thumbs.db", "desktop.ini", ".spotlight-v100", ".trashes",
                "__macosx", ".fseventsd"}


def err(code: str, path: str, message: str) -> Problem:
    return Problem(code, path, message, "error")


def warn(code: str, path: str, message: str) -> Problem:
    return Problem(code, path, message, "warning")


def nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def hash_constructor(algorithm: str):
    """hashlib constructor for a BagIt algorithm name (RFC 8493 §2.4), or None if unknown."""
    name = algorithm.lower().replace("-", "")
    ctor = getattr(hashlib, name, None)
    if ctor is not None and name in hashlib.algorithms_guaranteed:
        return ctor
    try:
        hashlib.new(name)
    except (ValueError, TypeError):
        return None
    return lambda: hashlib.new(name)


@dataclass
class PayloadFile:
    """One payload file: where it is on disk, its path in the bag, size and manifest digests."""

    root: Path                     # the bag root
    name: str                      # path relative to the bag root as on disk, 'data/…'
    size: int
    digests: dict[str, str] = field(default_factory=dict)  # algorithm -> digest (lower hex)

    @property
    def path(self) -> Path:
        """The file on disk (open this to copy it)."""
        return self.root / self.name

    @property
    def logical_path(self) -> str:
        """The path inside the bag, NFC-normalised (what the catalogue shows)."""
        return nfc(self.name)


@dataclass
class FetchEntry:
    url: str
    length: int | None
    path: str                      # as written in fetch.txt (decoded)


@dataclass
class Bag:
    """What Kho read of one bag; filled in by :func:`repository.ingest.validate.validate_bag`."""

    root: Path
    version: str | None = None
    encoding: str = "UTF-8"
    bag_info: dict[str, list[str]] = field(default_factory=dict)
    manifests: dict[str, dict[str, str]] = field(default_factory=dict)
    tag_manifests: dict[str, dict[str, str]] = field(default_factory=dict)
    payload: list[PayloadFile] = field(default_factory=list)
    tag_files: list[str] = field(default_factory=list)
    fetch: list[FetchEntry] = field(default_factory=list)
    incomplete: bool = False

    @property
    def version_tuple(self) -> tuple[int, int]:
        try:
            major, minor = (self.version or "1.0").split(".")
            return int(major), int(minor)
        except ValueError:
            return (1, 0)

    @property
    def payload_oxum(self) -> str:
        return f"{sum(f.size for f in self.payload)}.{len(self.payload)}"


# --- text of tag files ---------------------------------------------------------------

def decode_tag_file(raw: bytes, encoding: str, name: str) -> tuple[str | None, list[Problem]]:
    """Text of a tag file in the bag's declared encoding (RFC 8493 §2.2.4)."""
    problems: list[Problem] = []
    enc = codecs.lookup(encoding).name
    if enc == "utf-8" and raw.startswith(codecs.BOM_UTF8):
        # Only bagit.txt forbids a BOM outright (§2.1.1); elsewhere it is tolerated.
        problems.append(warn("K403", name, "starts with a byte order mark; it was ignored"))
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        return raw.decode(enc), problems
    except UnicodeDecodeError as exc:
        problems.append(err("K401", name, f"is not valid {encoding} (byte {exc.start})"))
        return None, problems


def split_lines(text: str) -> list[str]:
    lines = LINE_RE.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def line_endings(text: str) -> set[str]:
    return {m.group(0) for m in LINE_RE.finditer(text)}


def parse_tags(text: str, name: str) -> tuple[list[tuple[str, str]], list[Problem]]:
    """`Label: Value` lines with indented continuation lines (RFC 8493 §2.2.2)."""
    tags: list[tuple[str, str]] = []
    problems: list[Problem] = []
    for number, line in enumerate(split_lines(text), 1):
        if not line.strip():
            continue
        if line[0] in " \t" and tags:
            label, value = tags[-1]
            tags[-1] = (label, f"{value} {line.strip()}")
            continue
        label, sep, value = line.partition(":")
        if not sep or not label.strip():
            problems.append(err("K402", name, f"line {number} is not a 'Label: Value' line"))
            continue
        tags.append((label.strip(), value.strip()))
    return tags, problems


def read_bag_declaration(root: Path) -> tuple[str | None, str, list[Problem]]:
    """Version and tag-file encoding from bagit.txt (RFC 8493 §2.1.1)."""
    path = root / BAGIT_TXT
    problems: list[Problem] = []
    if not path.is_file():
        return None, "UTF-8", [err("K101", BAGIT_TXT, "the bag declaration bagit.txt is missing")]
    raw = path.read_bytes()
    if raw.startswith(codecs.BOM_UTF8):
        problems.append(err("K102", BAGIT_TXT,
                            "starts with a byte order mark, which RFC 8493 §2.1.1 forbids"))
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "UTF-8", problems + [err("K103", BAGIT_TXT, "is not UTF-8 text")]
    tags, tag_problems = parse_tags(text, BAGIT_TXT)
    problems += tag_problems
    values = dict(tags)
    version = values.get("BagIt-Version")
    encoding = values.get("Tag-File-Character-Encoding")
    if version is None:
        problems.append(err("K104", BAGIT_TXT, "has no BagIt-Version line"))
    elif not re.fullmatch(r"\d+\.\d+", version):
        problems.append(err("K104", BAGIT_TXT, f"BagIt-Version '{version}' is not M.N"))
        version = None
    elif tuple(int(p) for p in version.split(".")) not in KNOWN_VERSIONS:
        problems.append(warn("K105", BAGIT_TXT,
                             f"BagIt-Version {version} is not one Kho knows (0.93–1.0)"))
    if encoding is None:
        problems.append(err("K106", BAGIT_TXT, "has no Tag-File-Character-Encoding line"))
        encoding = "UTF-8"
    else:
        try:
            codecs.lookup(encoding)
        except LookupError:
            problems.append(err("K107", BAGIT_TXT,
                                f"Tag-File-Character-Encoding '{encoding}' is not known"))
            encoding = "UTF-8"
    if [label for label, _ in tags] not in (
            ["BagIt-Version", "Tag-File-Character-Encoding"], ["BagIt-Version"],
            ["Tag-File-Character-Encoding"], []):
        problems.append(warn("K108", BAGIT_TXT,
                             "should hold exactly BagIt-Version then Tag-File-Character-Encoding"))
    return version, encoding, problems


# --- paths in manifests and fetch.txt -------------------------------------------------

_DRIVE_RE = re.compile(r"[A-Za-z]:")
_MANIFEST_LINE_RE = re.compile(r"([^ \t]+)([ \t]+)(.*)$")
_HEX_RE = re.compile(r"[0-9a-f]+")
_PERCENT_RE = re.compile(r"%(0A|0D|25)", re.IGNORECASE)
_PERCENT_CHARS = {"0a": "\n", "0d": "\r", "25": "%"}


def decode_path(path: str, version: tuple[int, int]) -> str:
    """Undo RFC 8493 §2.1.3 percent-encoding (%0A, %0D, %25); older versions had none."""
    if version < (1, 0):
        return path
    return _PERCENT_RE.sub(lambda m: _PERCENT_CHARS[m.group(1).lower()], path)


def unsafe_path(path: str) -> str | None:
    """Why a manifest/fetch path would leave the bag, or None if it stays inside."""
    # Check the path as written, with backslashes as separators, and with backslash
    # escapes removed (`\.\./` is `../` to shells and some tools).
    candidates = [path]
    if "\\" in path:
        candidates += [path.replace("\\", "/"), path.replace("\\", "")]
    for candidate in candidates:
        if candidate.startswith("/") or _DRIVE_RE.match(candidate):
            return "is an absolute path"
        parts = candidate.split("/")
        if ".." in parts:
            return "uses '..' to leave the bag"
        if parts[0].startswith("~"):
            return "starts with '~' (a home folder)"
    if "\x00" in path:
        return "contains a NUL character"
    return None


def parse_manifest(text: str, name: str, algorithm: str, version: tuple[int, int],
                   payload: bool) -> tuple[list[tuple[str, str]], list[Problem]]:
    """(path, digest) entries of a (tag) manifest; paths decoded, './' removed (§2.1.3)."""
    entries: list[tuple[str, str]] = []
    problems: list[Problem] = []
    ctor = hash_constructor(algorithm)
    hexlen = ctor().digest_size * 2 if ctor else None
    for number, line in enumerate(split_lines(text), 1):
        if not line.strip():
            continue
        m = _MANIFEST_LINE_RE.match(line)
        if not m or not m.group(3):
            problems.append(err("K220", name, f"line {number} is not 'checksum filepath'"))
            continue
        digest, gap, path = m.group(1).lower(), m.group(2), m.group(3)
        if gap == " " and path.startswith("*"):
            # md5sum's binary-mode marker ('hash *file'): not BagIt, but unambiguous.
            problems.append(warn("K221", name,
                                 f"line {number} uses md5sum's '*' binary marker"))
            path = path[1:]
        if not _HEX_RE.fullmatch(digest) or (hexlen and len(digest) != hexlen):
            problems.append(err("K222", name,
                                f"line {number}: '{m.group(1)}' is not a {algorithm} digest"))
            continue
        if "%" in path:
            path = decode_path(path, version)
        if path.startswith("./"):
            problems.append(warn("K223", name, f"line {number}: path '{path}' starts with './'"))
            path = path[2:]
        why = unsafe_path(path)
        if why:
            problems.append(err("K224", name, f"line {number}: path '{path}' {why}"))
            continue
        if payload and not path.startswith("data/"):
            problems.append(err("K225", name,
                                f"line {number}: '{path}' is not in the payload folder data/"))
            continue
        if not payload and path.startswith("data/"):
            # RFC 8493 §2.2.1 means tag manifests for tag files; checked all the same.
            problems.append(warn("K226", name,
                                 f"line {number}: '{path}' is a payload file in a tag manifest"))
        entries.append((path, digest))
    return entries, problems


def parse_fetch(text: str, version: tuple[int, int]) -> tuple[list[FetchEntry], list[Problem]]:
    """fetch.txt lines `URL LENGTH FILENAME` (RFC 8493 §2.2.3)."""
    entries: list[FetchEntry] = []
    problems: list[Problem] = []
    for number, line in enumerate(split_lines(text), 1):
        if not line.strip():
            continue
        parts = re.split(r"[ \t]+", line.strip(" \t"), maxsplit=2)
        if len(parts) != 3 or not (parts[1] == "-" or parts[1].isdigit()):
            problems.append(err("K503", "fetch.txt",
                                f"line {number} is not 'URL LENGTH FILENAME'"))
            continue
        url, length, path = parts
        path = decode_path(path, version)
        if path.startswith("./"):
            path = path[2:]
        why = unsafe_path(path)
        if why:
            problems.append(err("K502", "fetch.txt", f"line {number}: path '{path}' {why}"))
            continue
        if not path.startswith("data/"):
            problems.append(err("K504", "fetch.txt",
                                f"line {number}: '{path}' is not in the payload folder data/"))
            continue
        entries.append(FetchEntry(url, None if length == "-" else int(length), path))
    return entries, problems


def is_system_file(name: str) -> bool:
    base = name.rsplit("/", 1)[-1].lower()
    return base in SYSTEM_FILES or base.startswith("._") or "/__macosx/" in name.lower()


def scan_files(root: Path, sub: str) -> tuple[dict[str, int], list[Problem]]:
    """Regular files under root/sub: relative posix path -> size; links and devices refused."""
    found: dict[str, int] = {}
    problems: list[Problem] = []
    stack = [sub]
    while stack:
        rel = stack.pop()
        try:
            entries = list(os.scandir(root / rel))
        except OSError as exc:
            problems.append(err("K307", rel, f"cannot be read ({exc.strerror})"))
            continue
        for entry in entries:
            name = f"{rel}/{entry.name}"
            if entry.is_symlink():
                problems.append(err("K306", name, "is a symbolic link; bags must hold real files"))
            elif entry.is_dir(follow_symlinks=False):
                stack.append(name)
            elif entry.is_file(follow_symlinks=False):
                found[name] = entry.stat(follow_symlinks=False).st_size
            else:
                problems.append(err("K306", name, "is a device, FIFO or socket, not a file"))
    return found, problems
