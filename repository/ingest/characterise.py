"""Characterisation: PRONOM format of each file (Siegfried via pygfried), image dimensions."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

# Formats whose pixel size is worth recording: they become IIIF canvases.
IMAGE_MIME_PREFIX = "image/"
# Siegfried (Go, inside pygfried) keeps ~6 KB per file it has identified and never gives it
# back, so identification runs in short-lived child processes, BATCH files each: the
# ingesting process stays small whatever the bag's size.
BATCH = 5000


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
    formats: dict[Path, FileFormat] = {}
    if not paths:
        return formats
    for start in range(0, len(paths), BATCH):
        batch = paths[start:start + BATCH]
        formats.update(zip(batch, _identify_in_child(batch)))
    return formats


def _identify_in_child(paths: list[Path]) -> list[FileFormat]:
    """Run :func:`identify_batch` in a fresh interpreter; paths in, JSON out."""
    import json
    import subprocess
    import sys
    listing = "\0".join(str(p) for p in paths).encode("utf-8", "surrogateescape")
    done = subprocess.run([sys.executable, "-m", "repository.ingest.characterise"],
                          input=listing, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"format identification failed: {done.stderr.decode(errors='replace')}")
    return [FileFormat(**item) for item in json.loads(done.stdout)]


def identify_batch(paths: list[Path]) -> list[FileFormat]:
    """Formats of ``paths``, in this process."""
    import pygfried
    scanner = pygfried.Scanner()
    threads = max(1, os.cpu_count() or 1)
    found = []
    for start in range(0, len(paths), 500):
        chunk = paths[start:start + 500]
        result = scanner.identify_many([str(p) for p in chunk], workers=threads)
        by_name = {f["filename"]: f for f in result.get("files", [])}
        found.extend(_file_format(p, by_name.get(str(p), {})) for p in chunk)
    return found


def _file_format(path: Path, entry: dict) -> FileFormat:
    match = next((m for m in entry.get("matches", []) if m.get("ns") == "pronom"), None)
    if not match or match.get("id") in (None, "", "UNKNOWN"):
        return FileFormat(None, None, None)
    fmt = FileFormat(match["id"], match.get("format") or None, match.get("mime") or None)
    if (fmt.mime_type or "").startswith(IMAGE_MIME_PREFIX):
        width, height = image_dimensions(path)
        fmt = FileFormat(fmt.pronom_id, fmt.format_name, fmt.mime_type, width, height)
    return fmt


def image_dimensions(path: Path) -> tuple[int | None, int | None]:
    """Pixel width and height from the image header only, or (None, None) if unreadable."""
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = None  # archival scans are legitimately huge; we only read headers
    try:
        with Image.open(path) as image:
            return image.size
    except Exception:  # noqa: BLE001 - an unreadable image is still preserved, just not sized
        return None, None


if __name__ == "__main__":  # the child of _identify_in_child
    import json
    import sys
    names = sys.stdin.buffer.read().decode("utf-8", "surrogateescape").split("\0")
    json.dump([f.as_dict() for f in identify_batch([Path(n) for n in names if n])], sys.stdout)
