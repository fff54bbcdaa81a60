"""Parse and resolve IIIF Image API 3.0 request parameters (region, size, rotation, quality, format).

The URL syntax is IIIF Image 3.0 §4: ``{region}/{size}/{rotation}/{quality}.{format}``.
Parsing is pure: it needs only the image's width and height and the server's limits.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from repository.errors import KhoError, UsageError

QUALITIES = ("default", "color", "gray", "bitonal")
# Output formats and their media types (§4.5); jpg and png are level 2, the others extras.
FORMATS = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "tif": "image/tiff",
           "gif": "image/gif"}
# Formats the spec names that Kho does not write: asked for, they are 501, not 400 (§7).
KNOWN_UNSUPPORTED_FORMATS = ("jp2", "pdf")

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PIXELS = re.compile(r"^(\d+),(\d+),(\d+),(\d+)$")
_PERCENT_REGION = re.compile(rf"^pct:({_NUMBER}),({_NUMBER}),({_NUMBER}),({_NUMBER})$")
_ROTATION = re.compile(rf"^(!)?({_NUMBER})$")


class InvalidImageRequest(UsageError):
    """The request is malformed or asks for something impossible (HTTP 400, §7)."""


class UnsupportedImageRequest(KhoError):
    """The request is well formed but names a feature Kho does not offer (HTTP 501, §7)."""


@dataclass(frozen=True)
class ImageRequest:
    """One resolved request: a pixel region of the full image and the output to make of it."""

    x: int
    y: int
    width: int            # region size in full-image pixels
    height: int
    out_width: int        # output size before rotation
    out_height: int
    mirror: bool
    rotation: float       # degrees clockwise, 0 <= r < 360
    quality: str          # "default", "color", "gray" or "bitonal"
    format: str           # key of FORMATS

    @property
    def media_type(self) -> str:
        return FORMATS[self.format]

    def canonical(self, image_width: int, image_height: int) -> str:
        """The canonical URI path form of this request (§4.7)."""
        if (self.x, self.y, self.width, self.height) == (0, 0, image_width, image_height):
            region = "full"
        else:
            region = f"{self.x},{self.y},{self.width},{self.height}"
        if (self.out_width, self.out_height) == (self.width, self.height) and region == "full":
            size = "max"
        else:
            up = "^" if self.out_width > self.width or self.out_height > self.height else ""
            size = f"{up}{self.out_width},{self.out_height}"
        rotation = ("!" if self.mirror else "") + _format_number(self.rotation)
        quality = "default" if self.quality == "color" else self.quality
        return f"{region}/{size}/{rotation}/{quality}.{self.format}"


@dataclass(frozen=True)
class Limits:
    """Server limits on the output size (§5.3): 0 means no limit."""

    max_width: int = 0
    max_height: int = 0
    max_area: int = 0


def _format_number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def parse_region(text: str, width: int, height: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) in full-image pixels, clipped to the image (§4.1)."""
    if text == "full":
        return 0, 0, width, height
    if text == "square":
        side = min(width, height)
        return (width - side) // 2, (height - side) // 2, side, side
    m = _PIXELS.match(text)
    if m:
        x, y, w, h = (int(v) for v in m.groups())
    else:
        m = _PERCENT_REGION.match(text)
        if not m:
            raise InvalidImageRequest(f"region {text!r} is not full, square, x,y,w,h or pct:x,y,w,h")
        px, py, pw, ph = (float(v) for v in m.groups())
        x, y = round(px * width / 100), round(py * height / 100)
        w, h = round(pw * width / 100), round(ph * height / 100)
    if w <= 0 or h <= 0:
        raise InvalidImageRequest(f"region {text!r} has zero width or height")
    # §4.1: a region partly outside the image is cropped; wholly outside is an error.
    if x >= width or y >= height:
        raise InvalidImageRequest(f"region {text!r} lies outside the {width}×{height} image")
    return x, y, min(w, width - x), min(h, height - y)


def parse_size(text: str, region_w: int, region_h: int, limits: Limits = Limits()) -> tuple[int, int]:
    """(w, h) of the output for a region of ``region_w``×``region_h`` (§4.2)."""
    upscale = text.startswith("^")
    body = text[1:] if upscale else text
    max_w = limits.max_width or 0
    max_h = limits.max_height or max_w
    if body == "max":
        w, h = region_w, region_h
        scale = 1.0
        # §4.2 max: the largest size the limits allow, keeping the aspect ratio.
        if max_w and w > max_w:
            scale = min(scale, max_w / w)
        if max_h and h > max_h:
            scale = min(scale, max_h / h)
        if limits.max_area and w * h * scale * scale > limits.max_area:
            scale = min(scale, math.sqrt(limits.max_area / (w * h)))
        if scale < 1.0:
            w, h = max(1, int(w * scale)), max(1, int(h * scale))
        return w, h
    if body.startswith("pct:"):
        try:
            pct = float(body[4:])
        except ValueError:
            raise InvalidImageRequest(f"size {text!r}: pct:n needs a number") from None
        if not math.isfinite(pct) or pct <= 0 or not re.fullmatch(_NUMBER, body[4:]):
            raise InvalidImageRequest(f"size {text!r}: percentage must be positive")
        if pct > 100 and not upscale:
            raise InvalidImageRequest(f"size {text!r} enlarges the region; use ^pct:n (§4.2)")
        w, h = round(region_w * pct / 100), round(region_h * pct / 100)
    else:
        confined = body.startswith("!")
        if confined:
            body = body[1:]
        m = re.fullmatch(r"(\d*),(\d*)", body)
        if not m or (not m.group(1) and not m.group(2)) or (confined and not (m.group(1) and m.group(2))):
            raise InvalidImageRequest(f"size {text!r} is not max, w,, ,h, w,h, !w,h or pct:n")
        rw = int(m.group(1)) if m.group(1) else None
        rh = int(m.group(2)) if m.group(2) else None
        if rw == 0 or rh == 0:
            raise InvalidImageRequest(f"size {text!r} has zero width or height")
        if confined:
            scale = min(rw / region_w, rh / region_h)
            # A box larger than the region would upscale: without ^ that is a 400, as the
            # official validator (size_noup) and IIPImage hold, though §4.2 could be read
            # as allowing the region's own size.
            w, h = max(1, round(region_w * scale)), max(1, round(region_h * scale))
            w, h = min(w, rw), min(h, rh)
        elif rw is not None and rh is not None:
            w, h = rw, rh
        elif rw is not None:
            w, h = rw, max(1, round(region_h * rw / region_w))
        else:
            w, h = max(1, round(region_w * rh / region_h)), rh
    if w <= 0 or h <= 0:
        raise InvalidImageRequest(f"size {text!r} gives an empty image")
    if not upscale and (w > region_w or h > region_h):
        raise InvalidImageRequest(f"size {text!r} is larger than the region; use ^ to upscale (§4.2)")
    if (max_w and w > max_w) or (max_h and h > max_h) or (limits.max_area and w * h > limits.max_area):
        raise InvalidImageRequest(f"size {text!r} exceeds the server's limits (§5.3)")
    return w, h


def parse_rotation(text: str) -> tuple[bool, float]:
    """(mirror, degrees) from ``n`` or ``!n`` with 0 <= n <= 360 (§4.3)."""
    m = _ROTATION.match(text)
    if not m:
        raise InvalidImageRequest(f"rotation {text!r} is not a number from 0 to 360, optionally after !")
    degrees = float(m.group(2))
    if degrees > 360:
        raise InvalidImageRequest(f"rotation {text!r} is above 360")
    return bool(m.group(1)), degrees % 360


def parse_quality_format(text: str) -> tuple[str, str]:
    """(quality, format) from ``quality.format`` (§4.4, §4.5)."""
    quality, dot, fmt = text.rpartition(".")
    if not dot or not quality or not fmt:
        raise InvalidImageRequest(f"{text!r} is not quality.format")
    if quality not in QUALITIES:
        raise InvalidImageRequest(f"quality {quality!r} is not one of {', '.join(QUALITIES)}")
    if fmt not in FORMATS:
        if fmt in KNOWN_UNSUPPORTED_FORMATS:
            raise UnsupportedImageRequest(f"format {fmt!r} is not offered; use one of {', '.join(FORMATS)}")
        raise InvalidImageRequest(f"format {fmt!r} is not an image format")
    return quality, fmt


def parse_image_request(region: str, size: str, rotation: str, quality_format: str,
                        width: int, height: int, limits: Limits = Limits()) -> ImageRequest:
    """Resolve the four URL segments against a ``width``×``height`` image (§4)."""
    quality, fmt = parse_quality_format(quality_format)
    mirror, degrees = parse_rotation(rotation)
    x, y, w, h = parse_region(region, width, height)
    out_w, out_h = parse_size(size, w, h, limits)
    # The limits hold for the image actually produced: a rotation's bounding box is larger.
    fit = _fit_after_rotation(out_w, out_h, degrees, limits)
    if fit < 1:
        if size.lstrip("^") != "max":
            bw, bh = rotated_size(out_w, out_h, degrees)
            raise InvalidImageRequest(
                f"size {size!r} rotated by {_format_number(degrees)}° gives {bw}×{bh} pixels, "
                "beyond the server's limits (info.json maxWidth, maxHeight, maxArea; §5.3)")
        out_w, out_h = max(1, math.floor(out_w * fit)), max(1, math.floor(out_h * fit))
    return ImageRequest(x, y, w, h, out_w, out_h, mirror, degrees, quality, fmt)


def rotated_size(w: int, h: int, degrees: float) -> tuple[int, int]:
    """The bounding box of a ``w``×``h`` image rotated by ``degrees`` (§4.3)."""
    if degrees % 90 == 0:
        return (h, w) if degrees % 180 else (w, h)
    a = math.radians(degrees)
    c, s = abs(math.cos(a)), abs(math.sin(a))
    return math.ceil(w * c + h * s), math.ceil(w * s + h * c)


def _fit_after_rotation(w: int, h: int, degrees: float, limits: Limits) -> float:
    """The scale (≤ 1) that brings the rotated output within ``limits``."""
    bw, bh = rotated_size(w, h, degrees)
    max_w = limits.max_width or 0
    max_h = limits.max_height or max_w
    fit = 1.0
    if max_w and bw > max_w:
        fit = min(fit, max_w / bw)
    if max_h and bh > max_h:
        fit = min(fit, max_h / bh)
    if limits.max_area and bw * bh > limits.max_area:
        fit = min(fit, math.sqrt(limits.max_area / (bw * bh)) * 0.999)
    return fit
