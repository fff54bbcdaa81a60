"""A whole item as one PDF, written as it is sent: each page image is embedded as the JPEG
it already is (DCTDecode, no re-encoding in the writer), one page at a time, so memory holds
one page however long the book. The description comes first, as a page rendered with
Pillow in a font that has Vietnamese (the text is an image there; the PDF's metadata
carries the title and author as text).
"""
from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Callable, Iterable, Iterator

from PIL import Image, ImageDraw, ImageFont

DPI = 150  # page images become pages of this resolution
FONT_CANDIDATES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                   "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
                   "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf")
_COLOUR_SPACES = {"L": "/DeviceGray", "RGB": "/DeviceRGB", "CMYK": "/DeviceCMYK"}


def _font(size: int):
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size)


def description_page(lines: list[tuple[str, str]], width: int = 1240, height: int = 1754) -> bytes:
    """An A4 page at 150 dpi (JPEG) listing ``(label, value)`` lines of the description."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    label_font, value_font = _font(26), _font(30)
    y = 110
    for label, value in lines:
        if y > height - 120:
            break
        draw.text((110, y), label, fill=(90, 100, 114), font=label_font)
        y += 38
        for part in textwrap.wrap(value, 64) or [""]:
            draw.text((110, y), part, fill=(20, 28, 40), font=value_font)
            y += 42
        y += 18
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _pdf_text(text: str) -> bytes:
    """A PDF text string in UTF-16BE with its byte order mark (any script)."""
    return b"<" + ("\ufeff" + text).encode("utf-16-be").hex().upper().encode() + b">"


def stream_pdf(pages: Iterable[Callable[[], bytes]], *, title: str, author: str = "") -> Iterator[bytes]:
    """Yield a PDF whose pages are the JPEGs returned by ``pages`` (each called when its turn
    comes). PDF 1.4, objects written in order, the page tree and cross-reference table last."""
    offset = 0
    offsets: dict[int, int] = {}

    def emit(data: bytes) -> bytes:
        nonlocal offset
        offset += len(data)
        return data

    def obj(number: int, body: bytes) -> bytes:
        offsets[number] = offset
        return emit(b"%d 0 obj\n" % number + body + b"\nendobj\n")

    yield emit(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    info = b"<< /Title " + _pdf_text(title) + (b" /Author " + _pdf_text(author) if author else b"") \
        + b" /Producer (Kho) >>"
    yield obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    yield obj(3, info)
    kids = []
    number = 4
    for render in pages:
        jpeg = render()
        with Image.open(io.BytesIO(jpeg)) as probe:
            width, height, mode = probe.width, probe.height, probe.mode
        space = _COLOUR_SPACES.get(mode, "/DeviceRGB")
        decode = b" /Decode [1 0 1 0 1 0 1 0]" if mode == "CMYK" else b""
        image_no, content_no, page_no = number, number + 1, number + 2
        number += 3
        yield obj(image_no, b"<< /Type /XObject /Subtype /Image /Width %d /Height %d "
                  b"/ColorSpace %s /BitsPerComponent 8 /Filter /DCTDecode%s /Length %d >>\nstream\n"
                  % (width, height, space.encode(), decode, len(jpeg)) + jpeg + b"\nendstream")
        w_pt, h_pt = width * 72 / DPI, height * 72 / DPI
        content = b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % (w_pt, h_pt)
        yield obj(content_no, b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        yield obj(page_no, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] "
                  b"/Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>"
                  % (w_pt, h_pt, image_no, content_no))
        kids.append(page_no)
    yield obj(2, b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
              + b"] /Count %d >>" % len(kids))
    xref_at = offset
    size = number
    table = [b"xref\n0 %d\n" % size, b"0000000000 65535 f \n"]
    for n in range(1, size):
        table.append(b"%010d 00000 n \n" % offsets[n] if n in offsets else b"0000000000 65535 f \n")
    yield emit(b"".join(table))
    yield emit(b"trailer\n<< /Size %d /Root 1 0 R /Info 3 0 R >>\nstartxref\n%d\n%%%%EOF\n"
               % (size, xref_at))
