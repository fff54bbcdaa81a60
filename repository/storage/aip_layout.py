"""Kho's own files inside each OCFL object, beside the bag as deposited.

Storage is the source of truth: these files hold everything the catalogue needs to be
rebuilt from the objects alone (`kho catalog rebuild`). They are written with every version.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# A top-level folder the bag itself may not use (ingest refuses bags that do).
METADATA_DIR = "kho-metadata"
AIP_FILE = f"{METADATA_DIR}/aip.json"                    # identifier, collection, access…
DUBLIN_CORE_FILE = f"{METADATA_DIR}/dublin-core.json"    # the Dublin Core record
FORMATS_FILE = f"{METADATA_DIR}/formats.json"            # PRONOM result per logical path
EVENTS_FILE = f"{METADATA_DIR}/premis-events.json"       # this version's PREMIS events
METADATA_FILES = (AIP_FILE, DUBLIN_CORE_FILE, FORMATS_FILE, EVENTS_FILE)

OCFL_ID_PREFIX = "urn:uuid:"


def ocfl_id_for(identifier: str) -> str:
    """The OCFL object id of an AIP: a URN built from its UUID identifier."""
    return f"{OCFL_ID_PREFIX}{identifier}"


def identifier_from_ocfl_id(ocfl_id: str) -> str:
    return ocfl_id[len(OCFL_ID_PREFIX):] if ocfl_id.startswith(OCFL_ID_PREFIX) else ocfl_id


def dump_json(document: Any) -> bytes:
    """Stable, readable JSON bytes (sorted keys, real Vietnamese letters, trailing newline)."""
    return (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


@dataclass(frozen=True)
class AipDescription:
    """The contents of ``kho-metadata/aip.json``."""

    identifier: str
    collection: str
    access: str
    external_identifier: str | None
    payload_fingerprint: str
    bagit_version: str | None
    # Set when the AIP is withdrawn: {"at": ISO 8601 UTC, "by": agent, "reason": text}.
    withdrawn: dict[str, str] | None = field(default=None)

    def as_dict(self) -> dict[str, Any]:
        document = {"identifier": self.identifier, "collection": self.collection,
                    "access": self.access, "external_identifier": self.external_identifier,
                    "payload_fingerprint": self.payload_fingerprint,
                    "bagit_version": self.bagit_version, "format": "kho-aip/1"}
        if self.withdrawn:
            document["withdrawn"] = dict(self.withdrawn)
        return document

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AipDescription":
        return cls(identifier=data["identifier"], collection=data["collection"],
                   access=data.get("access", "public"),
                   external_identifier=data.get("external_identifier"),
                   payload_fingerprint=data.get("payload_fingerprint", ""),
                   bagit_version=data.get("bagit_version"),
                   withdrawn=data.get("withdrawn") or None)
