"""The catalogue's file rows of one AIP version, built from its OCFL inventory."""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from repository.storage.aip_layout import METADATA_DIR

FORMAT_FIELDS = ("pronom_id", "format_name", "mime_type", "width", "height")


def file_role(logical_path: str) -> str:
    """payload (the bag's data/), metadata (Kho's own files) or tag (the bag's tag files)."""
    if logical_path.startswith("data/"):
        return "payload"
    return "metadata" if logical_path.startswith(METADATA_DIR + "/") else "tag"


def file_rows(aip_id: int, version: int, inventory, formats: Mapping[str, Mapping[str, Any]],
              sizes: Mapping[str, int]) -> Iterator[dict[str, Any]]:
    """One row per file of ``version`` (by logical path: its format fields and size), made
    as they are wanted: bags hold tens of thousands of files, inserted in batches."""
    digests = inventory.digests_by_content_path()
    for logical_path, sha512 in sorted(inventory.state(f"v{version}").items()):
        content_path = inventory.manifest[sha512][0]
        fmt = formats.get(logical_path) or {}
        yield {
            "aip_id": aip_id, "version": version, "logical_path": logical_path,
            "content_path": content_path, "size": sizes[logical_path], "sha512": sha512,
            "digests": {k: v for k, v in digests.get(content_path, {}).items() if k != "sha512"},
            **{name: fmt.get(name) for name in FORMAT_FIELDS},
            "role": file_role(logical_path)}
