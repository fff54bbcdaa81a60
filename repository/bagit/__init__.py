"""BagIt (RFC 8493): the bag and the parsers of its tag files and manifests.

Below both ingest (which validates bags on disk) and fixity (which re-reads the bag
manifests stored inside an AIP), so the format has one parser.
"""
from repository.bagit.bag import (Bag, FetchEntry, PayloadFile, parse_bag_declaration,
                                  parse_manifest, stored_manifest_entries)

__all__ = ["Bag", "FetchEntry", "PayloadFile", "parse_bag_declaration", "parse_manifest",
           "stored_manifest_entries"]
