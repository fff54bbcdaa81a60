"""BagIt-Profile (https://bagit-profiles.github.io/bagit-profiles-specification/, 1.1–1.4).

A profile is loaded from a file, an https URL (public hosts only) or a name shipped in
``profiles/`` (``kho-default``). Problems found are errors with ``P`` codes.
"""
from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repository.errors import Problem, UsageError
from repository.bagit.bag import Bag, err, warn

PROFILES_DIR = Path(__file__).parent / "profiles"
# Kho's own extension (the spec has no "one of these algorithms"): at least one of the
# listed payload manifests must be present. Unknown keys are ignored by other tools.
ONE_OF_KEY = "Kho-Manifests-Required-One-Of"


@dataclass
class Profile:
    """A loaded BagIt-Profile: its JSON and where it came from."""

    data: dict[str, Any]
    source: str

    @property
    def identifier(self) -> str:
        return self.data.get("BagIt-Profile-Info", {}).get("BagIt-Profile-Identifier", self.source)


def load_profile(ref: str | Path, *, max_bytes: int = 1024 * 1024) -> Profile:
    """A profile from a shipped name (``kho-default``), a file or an https URL."""
    ref = str(ref)
    if ref.startswith(("https://", "http://", "file:", "ftp://")):
        from repository.errors import KhoError
        from repository.ingest.fetch import fetch_bytes
        try:
            raw = fetch_bytes(ref, max_bytes)
        except KhoError as exc:
            raise UsageError(f"profile {ref}: {exc}") from None
    else:
        path = Path(ref)
        if not path.is_file() and "/" not in ref and (PROFILES_DIR / f"{ref}.json").is_file():
            path = PROFILES_DIR / f"{ref}.json"
        if not path.is_file():
            raise UsageError(f"profile {ref}: no such file or shipped profile")
        raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"profile {ref}: not JSON ({exc})") from None
    if not isinstance(data, dict) or "BagIt-Profile-Info" not in data:
        raise UsageError(f"profile {ref}: not a BagIt-Profile (no BagIt-Profile-Info)")
    return Profile(data, ref)


def _list(data: dict, key: str) -> list:
    value = data.get(key, [])
    return value if isinstance(value, list) else [value]


def _matches(path: str, patterns: list[str]) -> bool:
    # Spec 1.2+: entries may use '*' wildcards (glob), matched on the whole relative path.
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)


def check_profile(bag: Bag, profile: Profile | dict, *,
                  serialization: str | None = None) -> list[Problem]:
    """Every way the bag breaks the profile, as P-coded problems."""
    data = profile.data if isinstance(profile, Profile) else profile
    problems: list[Problem] = []
    info_file = "bag-info.txt"

    # Bag-Info: required, values, repeatable, recommended (spec 1.1–1.4).
    for tag, rule in (data.get("Bag-Info") or {}).items():
        rule = rule or {}
        values = bag.bag_info.get(tag, [])
        if not values:
            if rule.get("required"):
                problems.append(err("P101", info_file, f"required tag '{tag}' is missing"))
            elif rule.get("recommended"):
                problems.append(warn("P102", info_file, f"recommended tag '{tag}' is missing"))
            continue
        if rule.get("repeatable", True) is False and len(values) > 1:
            problems.append(err("P103", info_file, f"tag '{tag}' must not be repeated"))
        allowed = rule.get("values")
        if allowed:
            for value in values:
                if value not in allowed:
                    problems.append(err("P104", info_file, f"'{tag}: {value}' is not one of "
                                        + ", ".join(map(str, allowed))))
        if rule.get("required") and all(not v.strip() for v in values):
            problems.append(err("P101", info_file, f"required tag '{tag}' is empty"))

    # Manifests: Required is "all of"; Allowed lists the only ones permitted.
    for key, present, kind, codes in (
            ("Manifests", bag.manifests, "manifest", ("P201", "P202")),
            ("Tag-Manifests", bag.tag_manifests, "tagmanifest", ("P203", "P204"))):
        for algorithm in _list(data, f"{key}-Required"):
            if algorithm.lower() not in present:
                problems.append(err(codes[0], f"{kind}-{algorithm}.txt",
                                    f"the profile requires a {algorithm} {kind}"))
        allowed = [a.lower() for a in _list(data, f"{key}-Allowed")]
        if allowed:
            for algorithm in present:
                if algorithm not in allowed:
                    problems.append(err(codes[1], f"{kind}-{algorithm}.txt",
                                        f"{algorithm} {kind}s are not allowed by the profile"))
    one_of = [a.lower() for a in _list(data, ONE_OF_KEY)]
    if one_of and not any(a in bag.manifests for a in one_of):
        problems.append(err("P205", ".", "the profile requires a payload manifest in one of: "
                            + ", ".join(one_of)))

    # fetch.txt
    has_fetch = (bag.root / "fetch.txt").is_file()
    if has_fetch and data.get("Allow-Fetch.txt", True) is False:
        problems.append(err("P301", "fetch.txt", "the profile does not allow fetch.txt"))
    if not has_fetch and data.get("Fetch.txt-Required", False) is True:
        problems.append(err("P302", "fetch.txt", "the profile requires fetch.txt"))

    # Data-Empty (1.4): the payload is exactly one zero-length file.
    if data.get("Data-Empty", False) is True:
        if len(bag.payload) != 1 or bag.payload[0].size != 0:
            problems.append(err("P303", "data", "the profile requires an empty payload "
                                "(one zero-length file)"))

    # Tag files and payload files, required and allowed (patterns may use '*').
    tag_files = _tag_files(bag)
    payload_names = [f.name for f in bag.payload]
    for key, names, codes in (("Tag-Files", tag_files, ("P401", "P402")),
                              ("Payload-Files", payload_names, ("P403", "P404"))):
        for pattern in _list(data, f"{key}-Required"):
            if not _matches_any(names, pattern):
                problems.append(err(codes[0], pattern, f"the profile requires '{pattern}'"))
        allowed = _list(data, f"{key}-Allowed")
        if allowed:
            if key == "Tag-Files":
                # Spec 1.4: bagit.txt, bag-info.txt and the manifests are always allowed.
                allowed = allowed + ["bagit.txt", "bag-info.txt", "manifest-*.txt",
                                     "tagmanifest-*.txt", "fetch.txt"]
            for name in names:
                if not _matches(name, allowed):
                    problems.append(err(codes[1], name, "is not allowed by the profile"))

    # Serialization and versions.
    rule = data.get("Serialization", "optional")
    if rule == "required" and serialization is None:
        problems.append(err("P501", ".", "the profile requires a serialised bag (an archive)"))
    elif rule == "forbidden" and serialization is not None:
        problems.append(err("P501", ".", "the profile forbids a serialised bag (an archive)"))
    accepted = _list(data, "Accept-Serialization")
    if serialization is not None and accepted and serialization not in accepted \
            and not (serialization == "application/gzip" and
                     {"application/x-gzip", "application/tar+gzip"} & set(accepted)):
        problems.append(err("P502", ".", f"serialisation {serialization} is not one of "
                            + ", ".join(accepted)))
    versions = [str(v) for v in _list(data, "Accept-BagIt-Version")]
    if versions and bag.version not in versions:
        problems.append(err("P503", "bagit.txt", f"BagIt-Version {bag.version} is not one of "
                            + ", ".join(versions)))
    return problems


def _matches_any(names: list[str], pattern: str) -> bool:
    return any(fnmatch.fnmatchcase(n, pattern) for n in names)


def _tag_files(bag: Bag) -> list[str]:
    """Every file outside data/, relative to the bag root."""
    names = []
    for path in bag.root.rglob("*"):
        rel = path.relative_to(bag.root).as_posix()
        if rel == "data" or rel.startswith("data/") or not path.is_file():
            continue
        names.append(rel)
    return sorted(names)
