"""Access derivatives of page images: a pyramidal tiled JPEG TIFF per image, and reading its tiles.

A derivative is disposable: it is keyed by the image's version (its digest), built on first
use (or ahead of time by ingest) under a lock, written to a temporary name and renamed into
place, so a reader never sees half a file. Deleting the derivatives folder loses nothing.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import struct
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from repository.config import Settings
from repository.errors import DigestMismatch, NotFound, UnreadableImage
from repository.storage import digest_stream

TILE_SIZE = 512
JPEG_QUALITY = 85
# Signatures of JPEG 2000 (the JP2 box file and a bare codestream), which pyvips-binary cannot read.
_JP2_SIGNATURES = (b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")
_SAFE_KEY = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


@dataclass(frozen=True)
class ImageSource:
    """An original page image as the resolver finds it: a local file and a stable version string.

    ``version`` changes whenever the bytes change (use the file's digest); it keys the
    derivative, the ETag and the response cache. ``public`` decides shared caching.
    """

    path: Path
    version: str
    modified: datetime | None = None
    public: bool = True
    # The original's recorded sha512, when known: checked before a derivative is built from
    # it, so damaged stored bytes are refused instead of being served as pages.
    sha512: str | None = None


def derivative_key(source: ImageSource) -> str:
    """The store key of ``source``'s derivative: its digest when that is a safe name, else a hash of it."""
    if _SAFE_KEY.match(source.version):
        return source.version
    return hashlib.sha256(source.version.encode("utf-8")).hexdigest()


def derivative_path(source: ImageSource, settings: Settings) -> Path:
    key = derivative_key(source)
    return Path(settings.derivatives_dir) / "pyramids" / key[:2] / f"{key}.tif"


def ensure_derivative(source: ImageSource, settings: Settings) -> Path:
    """The pyramidal TIFF of ``source``, built now if it is not in the store yet."""
    target = derivative_path(source, settings)
    if target.exists():
        return target
    if not Path(source.path).is_file():
        raise NotFound(f"the original image of {source.version} is not at {source.path}")
    target.parent.mkdir(parents=True, exist_ok=True)
    # flock serialises builders across threads and worker processes alike (each open() is
    # its own open file description), so two first requests do not build the file twice.
    with open(target.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return target
        if source.sha512:
            _check_original(Path(source.path), source.sha512)
        fd, temp = tempfile.mkstemp(prefix=".building-", suffix=".tif", dir=target.parent)
        os.close(fd)
        try:
            _build_or_refuse(source, Path(temp))
            os.replace(temp, target)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)
    return target


def _check_original(path: Path, sha512: str) -> None:
    with open(path, "rb") as original:
        got = digest_stream(original, ("sha512",))[1]["sha512"]
    if got != sha512:
        raise DigestMismatch(f"the stored original of image {sha512[:16]}", "sha512", sha512, got)


def _build_or_refuse(source: ImageSource, target: Path) -> None:
    import pyvips
    from PIL import UnidentifiedImageError

    try:
        build_pyramid(Path(source.path), target)
    except (pyvips.Error, UnidentifiedImageError, OSError, ValueError) as exc:
        raise UnreadableImage(f"the stored original of image {source.version[:16]} "
                              f"({Path(source.path).name}) cannot be decoded: "
                              f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}") from exc


def build_pyramid(original: Path, target: Path) -> None:
    """Write ``original`` as an 8-bit pyramidal tiled TIFF with JPEG-compressed 512×512 tiles."""
    image = access_image(load_original(original))
    # libtiff refuses to read tiles larger than a small image; TIFF tiles are multiples of 16.
    width, height = (min(TILE_SIZE, -(-side // 16) * 16) for side in (image.width, image.height))
    image.tiffsave(str(target), tile=True, pyramid=True, compression="jpeg", Q=JPEG_QUALITY,
                   tile_width=width, tile_height=height,
                   bigtiff=image.width * image.height > 2**31)


def load_original(path: Path):
    """The original as a pyvips image; JPEG 2000 is decoded by Pillow (it bundles OpenJPEG)."""
    import pyvips

    with open(path, "rb") as f:
        head = f.read(12)
    if not head.startswith(_JP2_SIGNATURES):
        return pyvips.Image.new_from_file(str(path))
    from PIL import Image

    with Image.open(path) as pil:
        pil.load()
        if pil.mode in ("I;16", "I;16L", "I;16B", "I;16N"):
            data = pil.tobytes("raw", "I;16")  # little-endian ushort, whatever the source
            image = pyvips.Image.new_from_memory(data, pil.width, pil.height, 1, "ushort")
            return image.copy(interpretation="grey16")
        if pil.mode not in ("L", "LA", "RGB", "RGBA"):
            pil = pil.convert("RGBA" if "A" in pil.mode else "RGB")
        bands = len(pil.mode)
        return pyvips.Image.new_from_memory(pil.tobytes(), pil.width, pil.height, bands, "uchar")


def access_image(image):
    """8-bit sRGB (or 8-bit grey), alpha flattened on white: what every access copy is made of."""
    if image.get_typeof("icc-profile-data"):
        try:  # embedded profiles (Adobe RGB scans, CMYK) are converted, then dropped
            image = image.icc_transform("srgb", embedded=True, intent="relative")
        except Exception:  # a broken profile must not stop the page from displaying
            pass
    if image.interpretation == "cmyk":
        image = image.colourspace("srgb")
    if image.format != "uchar":
        if image.format == "ushort" and image.interpretation in ("grey16", "rgb16"):
            image = image.colourspace("b-w" if image.interpretation == "grey16" else "srgb")
        elif image.format == "ushort":
            image = image >> 8
        else:
            image = image.scaleimage()
        image = image.cast("uchar")
    if image.hasalpha():
        image = image.flatten(background=[255] * (image.bands - 1))
    if image.bands == 2:
        image = image[0]
    elif image.bands > 3:
        image = image[0:3]
    interpretation = "b-w" if image.bands == 1 else "srgb"
    return image.copy(interpretation=interpretation)


# --- reading stored JPEG tiles straight out of the TIFF (TIFF 6.0 §15 tiles, TechNote 2 JPEG) ---

@dataclass
class PyramidLevel:
    """One IFD of the pyramid: its size, tiling and where each tile's bytes are."""

    width: int
    height: int
    tile_width: int
    tile_height: int
    offsets: tuple[int, ...]
    byte_counts: tuple[int, ...]
    jpeg_tables: bytes
    photometric: int
    compression: int

    @property
    def tiles_across(self) -> int:
        return -(-self.width // self.tile_width)


_TYPE_FORMATS = {1: "B", 2: "B", 3: "H", 4: "I", 7: "B", 16: "Q", 17: "q", 18: "Q"}


@dataclass
class PyramidTiff:
    """A pyramidal TIFF opened once: IFDs parsed with ``struct``, tiles read with ``os.pread``."""

    path: Path
    levels: list[PyramidLevel] = field(default_factory=list)
    fd: int = -1

    @classmethod
    def open(cls, path: Path) -> "PyramidTiff":
        fd = os.open(path, os.O_RDONLY)
        pyramid = cls(Path(path), [], fd)
        try:
            pyramid._read_ifds()
        except Exception:
            os.close(fd)
            raise
        return pyramid

    def __del__(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    @property
    def width(self) -> int:
        return self.levels[0].width

    @property
    def height(self) -> int:
        return self.levels[0].height

    def _read(self, offset: int, size: int) -> bytes:
        data = os.pread(self.fd, size, offset)
        if len(data) != size:
            raise ValueError(f"{self.path}: truncated TIFF")
        return data

    def _read_ifds(self) -> None:
        header = self._read(0, 16)
        bo = {b"II": "<", b"MM": ">"}.get(header[:2])
        if bo is None:
            raise ValueError(f"{self.path}: not a TIFF")
        magic = struct.unpack(bo + "H", header[2:4])[0]
        big = magic == 43  # BigTIFF: 8-byte offsets and counts
        offset = struct.unpack(bo + "Q", header[8:16])[0] if big else struct.unpack(bo + "I", header[4:8])[0]
        count_fmt, entry_size, next_fmt, inline = ("Q", 20, "Q", 8) if big else ("H", 12, "I", 4)
        seen = set()
        while offset and offset not in seen:
            seen.add(offset)
            n = struct.unpack(bo + count_fmt, self._read(offset, struct.calcsize(count_fmt)))[0]
            start = offset + struct.calcsize(count_fmt)
            raw = self._read(start, n * entry_size + struct.calcsize(next_fmt))
            tags: dict[int, tuple] = {}
            for i in range(n):
                entry = raw[i * entry_size:(i + 1) * entry_size]
                tag, typ = struct.unpack(bo + "HH", entry[:4])
                count = struct.unpack(bo + ("Q" if big else "I"), entry[4:4 + (8 if big else 4)])[0]
                fmt = _TYPE_FORMATS.get(typ)
                if fmt is None:
                    continue
                size = struct.calcsize(fmt) * count
                value_field = entry[(12 if big else 8):]
                if size <= inline:
                    data = value_field[:size]
                else:
                    where = struct.unpack(bo + ("Q" if big else "I"), value_field[:inline])[0]
                    data = self._read(where, size)
                tags[tag] = data if typ in (2, 7) else struct.unpack(f"{bo}{count}{fmt}", data)
            offset = struct.unpack(bo + next_fmt, raw[n * entry_size:])[0]
            if 322 not in tags:  # a stripped IFD is not part of a tiled pyramid
                continue
            self.levels.append(PyramidLevel(
                width=tags[256][0], height=tags[257][0],
                tile_width=tags[322][0], tile_height=tags[323][0],
                offsets=tags[324], byte_counts=tags[325],
                jpeg_tables=bytes(tags.get(347, b"")),
                photometric=tags.get(262, (2,))[0], compression=tags.get(259, (1,))[0]))
        if not self.levels:
            raise ValueError(f"{self.path}: no tiled images")

    def jpeg_tile(self, level: int, column: int, row: int, height: int | None = None) -> bytes | None:
        """The stored tile as a standalone JPEG, without decoding; None when it cannot be.

        ``height`` lowers the frame height for a bottom-edge tile: the padding rows are
        simply not decoded (ITU T.81 B.2.2, the frame's Y is the number of lines).
        """
        lv = self.levels[level]
        if lv.compression != 7 or lv.photometric not in (1, 2, 6):
            return None
        data = self._read(lv.offsets[row * lv.tiles_across + column],
                          lv.byte_counts[row * lv.tiles_across + column])
        if data[:2] != b"\xff\xd8":
            return None
        tables = lv.jpeg_tables[2:-2] if lv.jpeg_tables.startswith(b"\xff\xd8") else b""
        # TIFF JPEG with Photometric RGB holds RGB components; an Adobe APP14 marker with
        # transform 0 tells decoders not to convert from YCbCr (TechNote 2; Adobe DCT 5116).
        marker = _ADOBE_RGB if lv.photometric == 2 else b""
        body = data[2:]
        if height is not None and height != lv.tile_height:
            body = _with_frame_height(body, height)
            if body is None:
                return None
        return b"\xff\xd8" + marker + tables + body


_ADOBE_RGB = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"


def _with_frame_height(body: bytes, height: int) -> bytes | None:
    """``body`` (a JPEG after SOI) with its SOF frame height set to ``height``."""
    pos = 0
    while pos + 4 <= len(body) and body[pos] == 0xFF:
        marker = body[pos + 1]
        length = struct.unpack(">H", body[pos + 2:pos + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            at = pos + 5  # FFxx, Lf (2), P (1), then Y (2)
            return body[:at] + struct.pack(">H", height) + body[at + 2:]
        if marker == 0xDA:
            return None
        pos += 2 + length
    return None


_open_lock = threading.Lock()
_open_pyramids: dict[Path, PyramidTiff] = {}


def open_pyramid(path: Path) -> PyramidTiff:
    """The parsed pyramid at ``path``, opened once per process and kept (a few KB each)."""
    pyramid = _open_pyramids.get(path)
    if pyramid is None:
        with _open_lock:
            pyramid = _open_pyramids.get(path)
            if pyramid is None:
                if len(_open_pyramids) > 512:  # bound open files; pyramids reopen on demand
                    _open_pyramids.clear()
                pyramid = _open_pyramids[path] = PyramidTiff.open(path)
    return pyramid
