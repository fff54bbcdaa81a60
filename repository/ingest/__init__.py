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
from repository.ingest.profile import Profile, check_profile, load_profile
from repository.ingest.unpack import serialization_of, unpacked
from repository.ingest.validate import BagValidation, hash_files, validate_bag, validate_path

__all__ = ["Bag", "BagValidation", "FetchEntry", "PayloadFile", "Profile", "check_profile",
           "hash_files", "load_profile", "serialization_of", "unpacked", "validate_bag",
           "validate_path"]
