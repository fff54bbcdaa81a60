"""Archival storage: one interface over local folders and S3 buckets, OCFL 1.1 objects on top.

Other rooms use: `get_location(settings, name)` / `load_locations(settings)` for a Storage,
and `OcflStore(storage)` to write and read AIPs as OCFL objects.
"""
from .base import CHUNK_SIZE, ObjectInfo, PutResult, Storage, check_key
from .digests import MultiHasher, digest_stream, normalise_algorithm
from .local import LocalStorage
from .locations import DEFAULT_LOCATION, build_location, get_location, load_locations
from .ocfl import IncompleteObject, Inventory, OcflStore, SourceFile, object_root_for
from .s3 import S3Storage

__all__ = [
    "CHUNK_SIZE", "DEFAULT_LOCATION", "IncompleteObject", "Inventory", "LocalStorage",
    "MultiHasher", "ObjectInfo", "OcflStore", "PutResult", "S3Storage", "SourceFile", "Storage",
    "build_location", "check_key", "digest_stream", "get_location", "load_locations",
    "normalise_algorithm", "object_root_for",
]
