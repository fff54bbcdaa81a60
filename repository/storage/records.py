"""Kho's small self-describing JSON records in a storage root's extension folders.

Collection records, the event journal and fixity histories each carry their own ``type`` and
``version``, so a later Kho can add kinds and versions and an older one refuses what it does
not understand instead of misreading it.
"""
from __future__ import annotations

import json

from repository.errors import StorageError

from .base import Storage


def parse_record(storage: Storage, key: str, data: bytes, *, record_type: str, version: int,
                 what: str) -> dict:
    """The record stored at ``key``, or StorageError naming the location, key and problem."""
    try:
        record = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise StorageError(f"{storage.name}: {key} is not valid JSON: {exc}") from exc
    if not isinstance(record, dict) or record.get("type") != record_type:
        raise StorageError(f"{storage.name}: {key} is not a Kho {what}")
    if int(record.get("version", 0)) > version:
        raise StorageError(f"{storage.name}: {key} is a version {record.get('version')} "
                           f"{what}; this Kho reads up to version {version}")
    return record
