"""Ingest room: unpack safely, validate BagIt (+ BagIt-Profile), describe.

Public surface::

    validate_bag(bag_root, *, settings, profile=None, allow_fetch=False, processes=None)
    validate_path(path, *, settings, profile=None, allow_fetch=False, processes=None)
    unpacked(path, settings)            # context manager yielding the bag root
    load_profile(ref)                   # file, https URL or shipped name ('kho-default')

``validate_path`` unpacks an archive into staging and removes it before returning, so the
files named in its result are gone; to copy them, validate inside ``unpacked``.
"""
from repository.bagit.bag import Bag, FetchEntry, PayloadFile
from repository.ingest.validate import BagValidation, hash_files, validate_bag, validate_path

# Imported on first use (PEP 562): `kho validate FOLDER` needs neither the archive readers
# (zipfile, tarfile, bz2, lzma ...) nor the profile checker, ~25 ms of its start-up.
_LAZY = {"Profile": "repository.ingest.profile", "check_profile": "repository.ingest.profile",
         "load_profile": "repository.ingest.profile",
         "serialization_of": "repository.ingest.unpack", "unpacked": "repository.ingest.unpack"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = ["Bag", "BagValidation", "FetchEntry", "PayloadFile", "Profile", "check_profile",
           "hash_files", "load_profile", "serialization_of", "unpacked", "validate_bag",
           "validate_path"]
