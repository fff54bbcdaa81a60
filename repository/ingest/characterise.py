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
# Siegfried reads a whole file when no signature settles early (a TIFF's pixels, data it
# does not know): for the 1 GB benchmark bag that was 0.9 GB read only to name formats. It
# is shown a stand-in instead, the file's first and last WINDOW bytes (DROID's default scan
# limit, 64 KiB, at each end), which hold what PRONOM byte signatures look at.
WINDOW = 64 * 1024
# Container formats are named from entries anywhere in the file (a DOCX's
# [Content_Types].xml): when the stand-in says only "a ZIP" or "an OLE2 file", Siegfried
# reads the whole file after all.
CONTAINERS = {"x-fmt/263", "fmt/111"}


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
    """Formats of ``paths``, in this process; large files through their head and tail."""
    import shutil
    import tempfile

    import pygfried
    scanner = pygfried.Scanner()
    threads = max(1, os.cpu_count() or 1)
    found = []
    windows = Path(tempfile.mkdtemp(prefix="kho-identify-"))
    try:
        for start in range(0, len(paths), 500):
            chunk = paths[start:start + 500]
            shown = [_stand_in(path, windows / str(start + n)) for n, path in enumerate(chunk)]
            entries = _identify(scanner, shown, threads)
            again = [n for n, (path, entry) in enumerate(zip(chunk, entries))
                     if shown[n] != path and _pronom_id(entry) in CONTAINERS]
            for n, entry in zip(again, _identify(scanner, [chunk[n] for n in again], threads)):
                entries[n] = entry
            found.extend(_file_format(path, entry) for path, entry in zip(chunk, entries))
            for stand_in in shown:
                if stand_in.parent == windows:
                    stand_in.unlink()
    finally:
        shutil.rmtree(windows, ignore_errors=True)
    return found


def _identify(scanner, paths: list[Path], threads: int) -> list[dict]:
    if not paths:
        return []
    result = scanner.identify_many([str(p) for p in paths], workers=threads)
    by_name = {f["filename"]: f for f in result.get("files", [])}
    return [by_name.get(str(p), {}) for p in paths]


def _stand_in(path: Path, folder: Path) -> Path:
    """``path`` itself if small, else a file of its first and last WINDOW bytes (same name,
    for Siegfried's extension match) in ``folder``."""
    try:
        size = path.stat().st_size
    except OSError:
        return path  # Siegfried reports the error itself
    if size <= 4 * WINDOW:
        return path
    folder.mkdir()
    stand_in = folder / path.name
    with open(path, "rb") as source, open(stand_in, "wb") as out:
        out.write(source.read(WINDOW))
        source.seek(size - WINDOW)
        out.write(source.read(WINDOW))
    return stand_in


def _pronom_id(entry: dict) -> str | None:
    match = next((m for m in entry.get("matches", []) if m.get("ns") == "pronom"), None)
    return match.get("id") if match else None


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
