"""The IIIF Image API 3.0 level 2 service: info.json and rendered images from the pyramids.

A request that lines up with a stored tile (same region and size, no rotation, colour,
JPEG) is answered with the tile's JPEG bytes, never decoded; everything else is cut,
scaled and encoded by libvips from the nearest pyramid level. Rendered answers are kept
in a small in-process LRU cache bounded in bytes.
"""
from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from repository.access.derivatives import (
    TILE_SIZE, ImageSource, PyramidTiff, derivative_key, ensure_derivative, open_pyramid)
from repository.access.image_request import FORMATS, ImageRequest, Limits, parse_image_request
from repository.config import Settings

CONTEXT = "http://iiif.io/api/image/3/context.json"
PROFILE_URI = "http://iiif.io/api/image/3/level2.json"
INFO_MEDIA_TYPE = f'application/ld+json;profile="{CONTEXT}"'
EXTRA_FEATURES = ["baseUriRedirect", "canonicalLinkHeader", "cors", "jsonldMediaType", "mirroring",
                  "profileLinkHeader", "rotationArbitrary", "sizeUpscaling"]
OUTPUT_JPEG_QUALITY = 90


@dataclass(frozen=True)
class RenderedImage:
    """An encoded image answer: bytes, media type and the canonical request path (§4.7)."""

    body: bytes
    media_type: str
    canonical: str


class ResponseCache:
    """A thread-safe LRU of rendered images, bounded by the total size of their bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, RenderedImage] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> RenderedImage | None:
        if self.max_bytes <= 0:
            return None
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: tuple, item: RenderedImage) -> None:
        size = len(item.body)
        if self.max_bytes <= 0 or size > self.max_bytes // 4:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._items[key] = item
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= len(evicted.body)


class ImageService:
    """Answers Image API requests for image sources; one per process, shared by threads."""

    def __init__(self, settings: Settings, cache_bytes: int | None = None):
        self.settings = settings
        self.limits = Limits(settings.iiif_max_width, settings.iiif_max_height, settings.iiif_max_area)
        self.cache = ResponseCache(settings.iiif_cache_bytes if cache_bytes is None else cache_bytes)
        # Decoding is bounded: each render holds up to maxArea pixels in memory at once, so
        # more renders than this wait their turn instead of growing the process without end.
        self._rendering = threading.BoundedSemaphore(max(1, settings.iiif_renderers))
        self._derivatives: dict[str, Path] = {}

    # -- the pyramid behind a source --
    def pyramid(self, source: ImageSource) -> PyramidTiff:
        """The opened pyramid of ``source``, built first if needed."""
        path = self._derivatives.get(source.version)
        if path is None:
            path = self._derivatives[source.version] = ensure_derivative(source, self.settings)
        try:
            return open_pyramid(path)
        except FileNotFoundError:  # the derivatives store was cleared: rebuild
            path = self._derivatives[source.version] = ensure_derivative(source, self.settings)
            return open_pyramid(path)

    def parse(self, source: ImageSource, region: str, size: str, rotation: str,
              quality_format: str) -> tuple[PyramidTiff, ImageRequest]:
        pyramid = self.pyramid(source)
        request = parse_image_request(region, size, rotation, quality_format,
                                      pyramid.width, pyramid.height, self.limits)
        return pyramid, request

    # -- info.json (§5) --
    def info(self, source: ImageSource, service_id: str) -> dict:
        pyramid = self.pyramid(source)
        width, height = pyramid.width, pyramid.height
        factors = scale_factors(width, height)
        sizes = []
        for sf in reversed(factors[1:]):
            w, h = math.ceil(width / sf), math.ceil(height / sf)
            if self._within_limits(w, h):
                sizes.append({"width": w, "height": h})
        info = {
            "@context": CONTEXT,
            "id": service_id,
            "type": "ImageService3",
            "protocol": "http://iiif.io/api/image",
            "profile": "level2",
            "width": width,
            "height": height,
        }
        if self.limits.max_width:
            info["maxWidth"] = self.limits.max_width
        if self.limits.max_height:
            info["maxHeight"] = self.limits.max_height
        if self.limits.max_area:
            info["maxArea"] = self.limits.max_area
        info.update({
            "sizes": sizes,
            "tiles": [{"width": TILE_SIZE, "height": TILE_SIZE, "scaleFactors": factors}],
            "extraQualities": ["color", "gray", "bitonal"],
            "extraFormats": [f for f in FORMATS if f not in ("jpg", "png")],
            "extraFeatures": EXTRA_FEATURES,
        })
        return info

    def _within_limits(self, w: int, h: int) -> bool:
        max_w = self.limits.max_width
        max_h = self.limits.max_height or max_w
        return not ((max_w and w > max_w) or (max_h and h > max_h)
                    or (self.limits.max_area and w * h > self.limits.max_area))

    # -- image requests (§4) --
    def render(self, source: ImageSource, pyramid: PyramidTiff, request: ImageRequest) -> RenderedImage:
        """The encoded answer to ``request``: from the cache, a stored tile, or libvips."""
        canonical = request.canonical(pyramid.width, pyramid.height)
        key = (source.version, canonical)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        body = stored_tile(pyramid, request)
        if body is None:
            with self._rendering:
                body = render_with_vips(pyramid, request)
        answer = RenderedImage(body, request.media_type, canonical)
        self.cache.put(key, answer)
        return answer

    def etag(self, source: ImageSource, canonical: str) -> str:
        digest = hashlib.sha1(f"{source.version}\n{canonical}".encode()).hexdigest()[:20]
        return f"{derivative_key(source)[:12]}-{digest}"


def scale_factors(width: int, height: int, tile: int = TILE_SIZE) -> list[int]:
    """1, 2, 4, … up to the first factor at which the whole image fits in one tile."""
    factors = [1]
    while max(width, height) > tile * factors[-1]:
        factors.append(factors[-1] * 2)
    return factors


def stored_tile(pyramid: PyramidTiff, request: ImageRequest) -> bytes | None:
    """The JPEG bytes of the stored tile that is exactly ``request``, or None."""
    if (request.rotation or request.mirror or request.format != "jpg"
            or request.quality not in ("default", "color")):
        return None
    for level_index, level in enumerate(pyramid.levels):
        sf = 1 << level_index
        span_w, span_h = level.tile_width * sf, level.tile_height * sf
        if request.x % span_w or request.y % span_h:
            continue
        column, row = request.x // span_w, request.y // span_h
        # The tile's pixels inside the level; stored edge tiles are padded to the full size.
        valid_w = min(level.tile_width, level.width - column * level.tile_width)
        valid_h = min(level.tile_height, level.height - row * level.tile_height)
        if valid_w <= 0 or valid_h <= 0:
            return None
        if (request.out_width, request.out_height) != (valid_w, valid_h):
            continue
        # The region must be what this tile covers, within a pixel of rounding at edges.
        if (abs(request.width / sf - valid_w) >= 1 or abs(request.height / sf - valid_h) >= 1):
            continue
        # Only a short edge tile can be cut without decoding (fewer MCU rows); a narrow one cannot.
        if valid_w != level.tile_width:
            return None
        return pyramid.jpeg_tile(level_index, column, row,
                                 None if valid_h == level.tile_height else valid_h)
    return None


def render_with_vips(pyramid: PyramidTiff, request: ImageRequest) -> bytes:
    """Cut, scale, rotate, recolour and encode ``request`` from the nearest pyramid level."""
    import pyvips

    # The smallest level that still has at least the output's resolution (§4.2 quality).
    shrink = min(request.width / request.out_width, request.height / request.out_height)
    level_index = 0
    while (level_index + 1 < len(pyramid.levels) and (1 << (level_index + 1)) <= shrink):
        level_index += 1
    level = pyramid.levels[level_index]
    sx, sy = level.width / pyramid.width, level.height / pyramid.height
    left, top = math.floor(request.x * sx), math.floor(request.y * sy)
    right = min(level.width, max(left + 1, math.ceil((request.x + request.width) * sx)))
    bottom = min(level.height, max(top + 1, math.ceil((request.y + request.height) * sy)))
    image = pyvips.Image.new_from_file(str(pyramid.path), page=level_index)
    image = image.crop(left, top, right - left, bottom - top)
    if (image.width, image.height) != (request.out_width, request.out_height):
        image = image.resize(request.out_width / image.width,
                             vscale=request.out_height / image.height)
        if (image.width, image.height) != (request.out_width, request.out_height):
            image = image.gravity("north-west", request.out_width, request.out_height,
                                  extend="copy")
    # §4.3: mirror first, then rotate clockwise.
    if request.mirror:
        image = image.fliphor()
    if request.rotation:
        right_angles = {90.0: "d90", 180.0: "d180", 270.0: "d270"}
        if request.rotation in right_angles:
            image = image.rot(right_angles[request.rotation])
        else:
            background = [255] * image.bands
            image = image.rotate(request.rotation, background=background)
    if request.quality in ("gray", "bitonal") and image.bands >= 3:
        # ITU-R BT.601 luma, as Pillow and most image servers compute grey.
        image = (image.recomb([[0.299, 0.587, 0.114]]) + 0.5).cast("uchar").copy(interpretation="b-w")
    if request.quality == "bitonal":
        image = (image > 127).cast("uchar")  # §4.4: each pixel black or white
    image = image.cast("uchar")
    if request.format == "jpg":
        return image.jpegsave_buffer(Q=OUTPUT_JPEG_QUALITY, strip=True)
    if request.format == "png":
        return image.pngsave_buffer(compression=3, strip=True)
    if request.format == "webp":
        return image.webpsave_buffer(Q=OUTPUT_JPEG_QUALITY, strip=True)
    if request.format == "gif":
        return image.gifsave_buffer()
    return image.tiffsave_buffer(compression="deflate", strip=True)
