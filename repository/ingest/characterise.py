"""Characterisation: PRONOM format of each file (Siegfried via pygfried), image dimensions."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pygfried

# Formats whose pixel size is worth recording: they become IIIF canvases.
IMAGE_MIME_PREFIX = "image/"


@dataclass(frozen=True)
class FileFormat:
    """What Siegfried says a file is, plus image dimensions where it is an image."""

    pronom_id: str | None
    format_name: str | None
    mime_type: str | None
    width: int | None = None
    height: int | None = None

    def as_dict(self) -> dict:
        return {"pronom_id": self.pronom_id, "format_name": self.format_name,
                "mime_type": self.mime_type, "width": self.width, "height": self.height}


def identify_formats(paths: Iterable[Path]) -> dict[Path, FileFormat]:
    """PRONOM identification of many files in one Siegfried call (it reads only what it needs)."""
    paths = [Path(p) for p in paths]
    if not paths:
        return {}
    result = pygfried.identify_many([str(p) for p in paths], workers=max(1, os.cpu_count() or 1))
    by_name: dict[str, dict] = {f["filename"]: f for f in result.get("files", [])}
    formats: dict[Path, FileFormat] = {}
    for path in paths:
        entry = by_name.get(str(path), {})
        match = next((m for m in entry.get("matches", []) if m.get("ns") == "pronom"), None)
        if not match or match.get("id") in (None, "", "UNKNOWN"):
            fmt = FileFormat(None, None, None)
        else:
            fmt = FileFormat(match["id"], match.get("format") or None, match.get("mime") or None)
        if (fmt.mime_type or "").startswith(IMAGE_MIME_PREFIX):
            width, height = image_dimensions(path)
            fmt = FileFormat(fmt.pronom_id, fmt.format_name, fmt.mime_type, width, height)
        formats[path] = fmt
    return formats


def image_dimensions(path: Path) -> tuple[int | None, int | None]:
    """Pixel width and height from the image header only, or (None, None) if unreadable."""
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = None  # archival scans are legitimately huge; we only read headers
    try:
        with Image.open(path) as image:
            return image.size
    except Exception:  # noqa: BLE001 - an unreadable image is still preserved, just not sized
        return None, None
