"""A bag made by `kho export`, deposited again (in this Kho or a fresh one).

Such a bag carries Kho's tag folder ``kho-metadata/``, which ingest otherwise refuses (K802:
the folder is Kho's own). An export is recognised by its ``kho-metadata/aip.json`` in Kho's
format; then ingest writes Kho's files afresh as for any deposit, takes the Dublin Core
from ``kho-metadata/dublin-core.json`` (the description as last edited, which may differ
from the deposited metadata/dc.json), keeps the earlier repository's record of the AIP
(aip.json and premis.xml) under ``kho-metadata/imported/<earlier identifier>/``, and keeps
any other file Kho had added (transcriptions, earlier imports) where it was.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from repository.errors import Problem
from repository.storage.aip_layout import (AIP_FILE, DUBLIN_CORE_FILE, EVENTS_FILE,
                                           FORMATS_FILE, METADATA_DIR)

EXPORT_FORMAT = "kho-aip/1"
PREMIS_FILE = f"{METADATA_DIR}/premis.xml"
# Made afresh by this ingest, so not stored as they came (the earlier record is kept apart).
REMADE = {AIP_FILE, DUBLIN_CORE_FILE, FORMATS_FILE, EVENTS_FILE, PREMIS_FILE}
_SAFE_IDENTIFIER = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class ExportedAip:
    """What an exported bag says of the AIP it came from."""

    identifier: str
    record: dict | None
    problems: list[Problem]

    @property
    def imported_dir(self) -> str:
        return f"{METADATA_DIR}/imported/{self.identifier}"

    def stored_name(self, name: str) -> str | None:
        """Where tag file ``name`` of the bag goes in the new AIP (None: not stored as is)."""
        if name in (AIP_FILE, PREMIS_FILE):
            return f"{self.imported_dir}/{name.rsplit('/', 1)[1]}"
        return None if name in REMADE else name


def read_export(root: Path) -> ExportedAip | None:
    """The export the bag at ``root`` is, or None when it is no Kho export."""
    try:
        description = json.loads((root / AIP_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(description, dict) or description.get("format") != EXPORT_FORMAT \
            or not _SAFE_IDENTIFIER.fullmatch(str(description.get("identifier", ""))):
        return None  # the identifier names a folder below: one plain path segment only
    from repository.metadata import validate_record
    from repository.metadata.dublin_core import read_dc_json
    try:
        data = (root / DUBLIN_CORE_FILE).read_bytes()
    except OSError:
        return ExportedAip(description["identifier"], None, [])
    record, problems = read_dc_json(data, DUBLIN_CORE_FILE)
    if record is not None:
        problems = problems + list(validate_record(record, DUBLIN_CORE_FILE))
    return ExportedAip(description["identifier"], record, problems)
