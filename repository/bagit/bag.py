"""A BagIt bag (RFC 8493) and the readers of its tag files: the one parser of the format.

Ingest reads bags on disk with it and fixity reads the bag manifests stored inside an AIP
with it (:func:`stored_manifest_entries`), so both decode paths the same way.

Reading never raises on a bad bag: every reader returns what it could read plus the
:class:`~repository.errors.Problem` records of what was wrong, so the validator can
report every problem at once.  Codes are listed in docs/validation-codes.md.
"""
from __future__ import annotations

import codecs
import hashlib
import itertools
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


def nfc_all(texts) -> list[str]:
    """nfc() of many strings at C speed: normalize() returns an already-NFC string as is."""
    return list(map(unicodedata.normalize, itertools.repeat("NFC"), texts))


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
    # The elements in file order: RFC 8493 §2.2.2 says "the ordering ... MUST be preserved".
    bag_info_elements: list[tuple[str, str]] = field(default_factory=list)
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

# RFC 8493 §2.2.4: a BOM only where the declared encoding needs one to be decoded.
_BOMS = {"utf-8": codecs.BOM_UTF8, "utf-16-le": codecs.BOM_UTF16_LE,
         "utf-16-be": codecs.BOM_UTF16_BE, "utf-32-le": codecs.BOM_UTF32_LE,
         "utf-32-be": codecs.BOM_UTF32_BE}


def strict_rules(version: tuple[int, int]) -> bool:
    """RFC 8493 defines BagIt 1.0; older bags are held to the drafts they were made by."""
    return version >= (1, 0)


def decode_tag_file(raw: bytes, encoding: str, name: str,
                    version: tuple[int, int] = (1, 0)) -> tuple[str | None, list[Problem]]:
    """Text of a tag file in the bag's declared encoding (RFC 8493 §2.2.4)."""
    problems: list[Problem] = []
    enc = text_codec(encoding) or "utf-8"  # an unknown name was reported (K107) as UTF-8
    bom = _BOMS.get(enc)
    if bom and raw.startswith(bom):
        # "when bagit.txt specifies UTF-8 the tag files MUST NOT begin with a BOM"; UTF-16LE
        # and the like do not need one either.  Drafts before 1.0 did not say so.
        report = err if strict_rules(version) else warn
        problems.append(report("K403", name, f"starts with a byte order mark, which RFC 8493 "
                               f"§2.2.4 forbids in {encoding} tag files"))
        raw = raw[len(bom):]
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
    if "\r" not in text:  # the usual case, without a match object per line
        return {"\n"} if "\n" in text else set()
    return {m.group(0) for m in LINE_RE.finditer(text)}


def last_line_unterminated(text: str) -> bool:
    """RFC 8493 §2.2.4 recommends that the last line also ends with LF, CR or CRLF."""
    return bool(text) and text[-1] not in "\r\n"


# Reserved bag-info elements (RFC 8493 §2.2.2); names are case-insensitive.
NOT_REPEATED = {"payload-oxum"}                                   # MUST NOT be repeated
SHOULD_NOT_REPEAT = {"bagging-date", "bag-size", "bag-group-identifier", "bag-count"}


def parse_tags(text: str, name: str, version: tuple[int, int] = (1, 0),
               ) -> tuple[list[tuple[str, str]], list[Problem]]:
    """Metadata elements `Label: Value`, with indented continuation lines (RFC 8493 §2.2.2).

    BagIt 1.0 wants exactly one space or tab after the colon and no whitespace around the
    label; older versions allowed any whitespace on both sides of the colon."""
    tags: list[tuple[str, str]] = []
    problems: list[Problem] = []
    strict = strict_rules(version)
    for number, line in enumerate(split_lines(text), 1):
        if not line.strip(" \t"):
            problems.append(warn("K406", name, f"line {number} is empty; it is not a metadata "
                                 "element"))
            continue
        if line[0] in " \t":
            if not tags:
                problems.append(err("K402", name, f"line {number} is indented but continues "
                                    "no metadata element"))
                continue
            label, value = tags[-1]
            tags[-1] = (label, value + " " + line.strip(" \t"))
            continue
        raw_label, sep, rest = line.partition(":")
        label = raw_label.strip(" \t")
        if not sep or not label:
            problems.append(err("K402", name, f"line {number} is not a 'Label: Value' line"))
            continue
        if strict and raw_label != label:
            problems.append(err("K407", name, f"line {number}: the label '{raw_label}' ends "
                                "with whitespace before the colon"))
        elif strict and (not rest or rest[0] not in " \t"):
            problems.append(err("K407", name, f"line {number}: '{label}:' is not followed by "
                                "a single space or tab"))
        tags.append((label, rest.strip(" \t")))
    if name in ("bag-info.txt", "package-info.txt"):
        counts: dict[str, list[str]] = {}
        for label, value in tags:
            counts.setdefault(label.lower(), []).append(label)
        for key, labels in counts.items():
            if len(labels) < 2:
                continue
            if key in NOT_REPEATED:
                problems.append(err("K311", name, f"{labels[0]} is given {len(labels)} times; "
                                    "RFC 8493 §2.2.2 allows it once"))
            elif key in SHOULD_NOT_REPEAT:
                problems.append(warn("K408", name, f"{labels[0]} is given {len(labels)} times; "
                                     "RFC 8493 §2.2.2 says it should not be repeated"))
    return tags, problems


DECLARATION_LABELS = ("BagIt-Version", "Tag-File-Character-Encoding")
_VERSION_RE = re.compile(r"[0-9]+\.[0-9]+")


# UTF-8's name and alias in the IANA character set registry (compared upper-cased, as
# charset names are case-insensitive); Python also answers to utf8, u8, utf_8 and cp65001.
IANA_UTF8_NAMES = {"UTF-8", "CSUTF8"}


def read_bag_declaration(root: Path) -> tuple[str | None, str, list[Problem]]:
    """Version and tag-file encoding from bagit.txt (RFC 8493 §2.1.1)."""
    path = root / BAGIT_TXT
    if not path.is_file():
        return None, "UTF-8", [err("K101", BAGIT_TXT, "the bag declaration bagit.txt is missing")]
    return parse_bag_declaration(path.read_bytes())


def parse_bag_declaration(raw: bytes) -> tuple[str | None, str, list[Problem]]:
    """Version and tag-file encoding from the bytes of bagit.txt (RFC 8493 §2.1.1)."""
    problems: list[Problem] = []
    if raw.startswith(codecs.BOM_UTF8):
        problems.append(err("K102", BAGIT_TXT,
                            "starts with a byte order mark, which RFC 8493 §2.1.1 forbids"))
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "UTF-8", problems + [err("K103", BAGIT_TXT, "is not UTF-8 text")]
    if "\ufeff" in text:
        problems.append(err("K102", BAGIT_TXT,
                            "contains a byte order mark, which RFC 8493 §2.1.1 forbids"))
    # Read every line leniently first: the version decides how strict the rest is.
    lines = split_lines(text)
    found: list[tuple[int, str | None, str, str]] = []  # (line, known label, raw label, rest)
    for number, line in enumerate(lines, 1):
        raw_label, sep, rest = line.partition(":")
        label = raw_label.strip(" \t")
        known = next((k for k in DECLARATION_LABELS if sep and k.lower() == label.lower()), None)
        found.append((number, known, raw_label, rest))
    values = {}
    for number, known, raw_label, rest in found:
        if known and known not in values:
            values[known] = rest.strip(" \t")
    version = values.get("BagIt-Version")
    encoding = values.get("Tag-File-Character-Encoding")
    if version is None:
        problems.append(err("K104", BAGIT_TXT, "has no BagIt-Version line"))
    elif not _VERSION_RE.fullmatch(version):
        problems.append(err("K104", BAGIT_TXT, f"BagIt-Version '{version}' is not M.N"))
        version = None
    elif tuple(int(p) for p in version.split(".")) not in KNOWN_VERSIONS:
        problems.append(warn("K105", BAGIT_TXT,
                             f"BagIt-Version {version} is not one Kho knows (0.93–1.0)"))
    strict = strict_rules(tuple(int(p) for p in version.split(".")) if version else (1, 0))

    labels = [known for _, known, _, _ in found]
    expected = list(DECLARATION_LABELS)
    if labels != expected and not (None not in labels and len(labels) == len(set(labels))
                                   and len(labels) < 2):
        # "MUST consist of exactly two lines in this order" (missing lines are K104/K106).
        extra = [n for n, known, _, _ in found if known is None]
        if extra:
            detail = f"line {extra[0]} is neither BagIt-Version nor Tag-File-Character-Encoding"
        elif len(labels) != len(set(labels)):
            detail = "a line is repeated"
        else:
            detail = "the lines are in the wrong order"
        problems.append(err("K108", BAGIT_TXT, "must hold exactly two lines, BagIt-Version then "
                            f"Tag-File-Character-Encoding: {detail}"))
    for number, known, raw_label, rest in found:
        if known is None:
            continue
        if known != raw_label.strip(" \t"):
            problems.append(warn("K111", BAGIT_TXT, f"line {number} spells the label "
                                 f"'{raw_label.strip()}'; RFC 8493 §2.1.1 writes '{known}'"))
        value = rest[1:] if rest[:1] in (" ", "\t") else None
        if strict and (raw_label != raw_label.strip(" \t") or value is None or not value
                       or value != value.strip(" \t")):
            problems.append(err("K110", BAGIT_TXT, f"line {number} is not '{known}: VALUE' "
                                "with one space after the colon and nothing around the value"))
    if last_line_unterminated(text):
        problems.append(warn("K405", BAGIT_TXT, "the last line does not end with a line break"))

    if encoding is None:
        problems.append(err("K106", BAGIT_TXT, "has no Tag-File-Character-Encoding line"))
        encoding = "UTF-8"
    else:
        codec = text_codec(encoding)
        if codec is None:
            problems.append(err("K107", BAGIT_TXT, f"Tag-File-Character-Encoding '{encoding}' "
                                "is not a character set encoding Kho knows"))
            encoding = "UTF-8"
        elif codec != "utf-8":
            problems.append(warn("K112", BAGIT_TXT, f"Tag-File-Character-Encoding is "
                                 f"'{encoding}'; RFC 8493 §2.1.1 says it should be UTF-8"))
        elif encoding.upper() not in IANA_UTF8_NAMES:
            problems.append(warn("K113", BAGIT_TXT, f"Tag-File-Character-Encoding is spelled "
                                 f"'{encoding}'; the IANA name RFC 8493 §2.1.1 asks for is "
                                 "'UTF-8'"))
    return version, encoding, problems


def text_codec(name: str) -> str | None:
    """Python's name for the character set encoding ``name``, or None if it is not one.

    codecs.lookup also finds codecs that turn bytes into bytes (base64, rot13, zlib): a
    tag file cannot be decoded with those, so they are no encoding here."""
    if name.upper() in IANA_UTF8_NAMES:  # Python does not know csUTF8
        return "utf-8"
    try:
        # LookupError for an unknown name and for a bytes-to-bytes codec (not for b"", which
        # Python decodes without looking the codec up).
        b"BagIt".decode(name, "replace")
        return codecs.lookup(name).name
    except LookupError:
        return None


# --- paths in manifests and fetch.txt -------------------------------------------------

_DRIVE_RE = re.compile(r"[A-Za-z]:")
_MANIFEST_LINE_RE = re.compile(r"([^ \t]+)([ \t]+)(.*)$")
_HEX_RE = re.compile(r"[0-9a-f]+")
# A payload line needing none of the checks of parse_manifest's slow path: no '%' to decode,
# no '\\' or NUL for unsafe_path, no '*' marker or './' (the path starts with data/).
_PLAIN_PAYLOAD_LINE_RE = re.compile(r"([0-9A-Fa-f]+)[ \t]+(data/[^%\\\x00]*)")
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


_UNENCODED_PERCENT_RE = re.compile(r"%(?!0[AaDd]|25)")


def unencoded_percent(path: str, version: tuple[int, int]) -> bool:
    """RFC 8493 §2.1.3: '%' in a 1.0 path must be written %25 (only %0A, %0D, %25 exist)."""
    return strict_rules(version) and bool(_UNENCODED_PERCENT_RE.search(path))


def parse_manifest(text: str, name: str, algorithm: str, version: tuple[int, int],
                   payload: bool) -> tuple[list[tuple[str, str]], list[Problem]]:
    """(path, digest) entries of a (tag) manifest; paths decoded, './' removed (§2.1.3)."""
    entries: list[tuple[str, str]] = []
    problems: list[Problem] = []
    strict = strict_rules(version)
    ctor = hash_constructor(algorithm)
    hexlen = ctor().digest_size * 2 if ctor else None
    # Nearly every line of a payload manifest is 'HEX  data/…' with nothing to decode or
    # refuse: one regex tells so, and only the other lines take the checks below one by one.
    fast = _PLAIN_PAYLOAD_LINE_RE.fullmatch if payload else None
    for number, line in enumerate(split_lines(text), 1):
        if fast is not None and (m := fast(line)) is not None:
            digest, path = m.groups()
            if (hexlen is None or len(digest) == hexlen) and "/.." not in path:
                entries.append((path, digest.lower()))
                continue
        if not line.strip():
            if strict:  # "Each line of a payload manifest file MUST be of the form ..."
                problems.append(err("K220", name, f"line {number} is empty, not "
                                    "'checksum filepath'"))
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
            if unencoded_percent(path, version):
                problems.append(err("K227", name, f"line {number}: '{path}' has a '%' that is "
                                    "not percent-encoded as %25"))
                continue
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
            # RFC 8493 §2.2.1: a tag manifest "MUST NOT list any payload files"; the drafts
            # before 1.0 did not say so, and such bags are checked all the same.
            report = err if strict else warn
            problems.append(report("K226", name,
                                   f"line {number}: '{path}' is a payload file in a tag manifest"))
        entries.append((path, digest))
    return entries, problems


_FETCH_LINE_RE = re.compile(r"([^ \t]+)[ \t]+([^ \t]+)[ \t]+(.+)")
_URI_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^ \t]*")


def parse_fetch(text: str, version: tuple[int, int]) -> tuple[list[FetchEntry], list[Problem]]:
    """fetch.txt lines `URL LENGTH FILENAME` (RFC 8493 §2.2.3)."""
    entries: list[FetchEntry] = []
    problems: list[Problem] = []
    strict = strict_rules(version)
    for number, line in enumerate(split_lines(text), 1):
        if not line.strip():
            if strict:  # "Each line of a fetch file MUST be of the form ..."
                problems.append(err("K503", "fetch.txt", f"line {number} is empty, not "
                                    "'URL LENGTH FILENAME'"))
            continue
        # The file name is everything after the second gap: a name may end in a space.
        m = _FETCH_LINE_RE.fullmatch(line if strict else line.lstrip(" \t"))
        if not m or not re.fullmatch(r"-|[0-9]+", m.group(2)):
            problems.append(err("K503", "fetch.txt",
                                f"line {number} is not 'URL LENGTH FILENAME'"))
            continue
        url, length, path = m.groups()
        if not _URI_SCHEME_RE.fullmatch(url):
            problems.append(err("K507", "fetch.txt", f"line {number}: '{url}' is not an "
                                "absolute URI (RFC 3986)"))
            continue
        if unencoded_percent(path, version):
            problems.append(err("K508", "fetch.txt", f"line {number}: '{path}' has a '%' that "
                                "is not percent-encoded as %25"))
            continue
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


# Every name is_system_file accepts holds one of these after a '/' or at its start: a few
# substring searches over all the names joined replace a call per file.
_SYSTEM_FILE_MARKS = tuple(sorted(SYSTEM_FILES)) + ("._",)


def system_files(names) -> list[str]:
    """The names that are operating-system files (is_system_file), in the order given."""
    names = list(names)
    joined = ("\x00" + "\x00".join(names)).lower()  # names cannot contain NUL
    if not any(sep + mark in joined for mark in _SYSTEM_FILE_MARKS for sep in "/\x00"):
        return []
    return [name for name in names if is_system_file(name)]


def scan_files(root: Path, sub: str, sizes: bool = True) -> tuple[dict[str, int], list[Problem]]:
    """Regular files under root/sub: relative posix path -> size; links and devices refused.

    With ``sizes=False`` every size is -1 and no file is stat()ed (the directory entries
    say what is a file): a caller that reads every file learns the sizes then."""
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
        prefix = rel + "/"
        for entry in entries:
            name = prefix + entry.name
            # Regular files first: the usual entry costs one test (links are neither).
            if entry.is_file(follow_symlinks=False):
                found[name] = entry.stat(follow_symlinks=False).st_size if sizes else -1
            elif entry.is_dir(follow_symlinks=False):
                stack.append(name)
            elif entry.is_symlink():
                problems.append(err("K306", name, "is a symbolic link; bags must hold real files"))
            else:
                problems.append(err("K306", name, "is a device, FIFO or socket, not a file"))
    return found, problems


def stored_manifest_entries(manifest: bytes, name: str, bagit_txt: bytes | None
                            ) -> tuple[list[tuple[str, str]], list[Problem]]:
    """(NFC path, digest) entries of a (tag) manifest kept inside an AIP, read exactly as
    ingest read it: in the encoding and by the rules of the bag's version, percent-encoded
    names decoded, './' removed, paths NFC-normalised as the AIP's logical paths are."""
    version, encoding, problems = parse_bag_declaration(bagit_txt) if bagit_txt is not None \
        else ("1.0", "UTF-8", [])
    try:
        version_tuple = tuple(int(p) for p in (version or "1.0").split("."))[:2]
        codecs.lookup(encoding)
    except (ValueError, LookupError):
        version_tuple, encoding = (1, 0), "UTF-8"
    text, decode_problems = decode_tag_file(manifest, encoding, name, version_tuple)
    problems = problems + decode_problems
    if text is None:
        return [], problems
    match = MANIFEST_RE.match(name) or TAGMANIFEST_RE.match(name)
    algorithm = match.group(1).lower() if match else ""
    entries, line_problems = parse_manifest(text, name, algorithm, version_tuple,
                                            payload=name.startswith("manifest-"))
    return [(nfc(path), digest) for path, digest in entries], problems + line_problems
