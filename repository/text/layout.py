"""Page text with word boxes, read from hOCR (Tesseract's output) or ALTO, or plain text.

The text is rebuilt from the words (a space between words, a newline between lines) so
that every word's box is tied to character offsets in it; searching the text then gives
boxes to highlight on the image.
"""
from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

_BBOX = re.compile(r"bbox\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)")
MAX_LAYOUT_BYTES = 32 * 1024 * 1024


class LayoutError(ValueError):
    """A text file that cannot be read (its message names the problem)."""


@dataclass
class PageLayout:
    """A page's NFC text and its words' boxes: [x, y, w, h, line, start, end]."""

    text: str
    words: list[list[int]] = field(default_factory=list)
    width: int | None = None
    height: int | None = None

    def scaled_to(self, width: int | None, height: int | None) -> "PageLayout":
        """The layout with its boxes in the page image's pixels, when the file gives its
        page in other units (ALTO's inch1200 or mm10) or for an image of another size."""
        if not (self.width and self.height and width and height and self.words) or \
                (self.width, self.height) == (width, height):
            return self
        sx, sy = width / self.width, height / self.height
        words = []
        for x, y, w, h, line, start, end in self.words:
            x0, y0 = round(x * sx), round(y * sy)
            words.append([x0, y0, round((x + w) * sx) - x0, round((y + h) * sy) - y0,
                          line, start, end])
        return PageLayout(self.text, words, width, height)

    def lines(self) -> list[tuple[str, tuple[int, int, int, int]]]:
        """Each line's text and the box around its words."""
        out: dict[int, list[list[int]]] = {}
        for word in self.words:
            out.setdefault(word[4], []).append(word)
        result = []
        for _, words in sorted(out.items()):
            x0 = min(w[0] for w in words)
            y0 = min(w[1] for w in words)
            x1 = max(w[0] + w[2] for w in words)
            y1 = max(w[1] + w[3] for w in words)
            result.append((self.text[words[0][5]:words[-1][6]], (x0, y0, x1 - x0, y1 - y0)))
        return result


class _Builder:
    def __init__(self):
        self.parts: list[str] = []
        self.length = 0
        self.words: list[list[int]] = []
        self.line = -1
        self.line_has_words = False

    def new_line(self) -> None:
        self.line += 1
        self.line_has_words = False

    def add_word(self, text: str, box: tuple[int, int, int, int]) -> None:
        text = unicodedata.normalize("NFC", " ".join(text.split()))
        if not text:
            return
        if self.line < 0:
            self.new_line()
        if self.length:
            sep = " " if self.line_has_words else "\n"
            self.parts.append(sep)
            self.length += 1
        start = self.length
        self.parts.append(text)
        self.length += len(text)
        x0, y0, x1, y1 = box
        self.words.append([x0, y0, max(0, x1 - x0), max(0, y1 - y0), self.line, start, self.length])
        self.line_has_words = True

    def layout(self, width=None, height=None) -> PageLayout:
        return PageLayout("".join(self.parts), self.words, width, height)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _classes(element) -> set[str]:
    return set((element.get("class") or "").split())


def _parse_xml(data: bytes, kind: str) -> ET.Element:
    if len(data) > MAX_LAYOUT_BYTES:
        raise LayoutError(f"the {kind} file is larger than {MAX_LAYOUT_BYTES} bytes")
    if b"<!ENTITY" in data:  # no entity declarations: nothing to expand (billion laughs)
        raise LayoutError(f"the {kind} file declares XML entities, which Kho does not read")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise LayoutError(f"the {kind} file is not well-formed XML ({exc})") from None


def parse_hocr(data: bytes) -> PageLayout:
    """Words and lines of an hOCR document (``ocrx_word`` in ``ocr_line``/``ocrx_line``)."""
    root = _parse_xml(data, "hOCR")
    builder = _Builder()
    width = height = None

    def walk(element) -> None:
        nonlocal width, height
        classes = _classes(element)
        if "ocr_page" in classes and width is None:
            m = _BBOX.search(element.get("title") or "")
            if m:
                width, height = int(m.group(3)), int(m.group(4))
        if classes & {"ocr_line", "ocrx_line", "ocr_header", "ocr_caption", "ocr_textfloat"}:
            builder.new_line()
        if "ocrx_word" in classes:
            m = _BBOX.search(element.get("title") or "")
            text = "".join(element.itertext())
            if m:
                builder.add_word(text, tuple(int(g) for g in m.groups()))
            return
        for child in element:
            walk(child)

    walk(root)
    if not builder.words and root.find(".//*[@class]") is None:
        raise LayoutError("the hOCR file has no ocr_page or ocrx_word elements")
    return builder.layout(width, height)


def parse_alto(data: bytes) -> PageLayout:
    """Words (``String`` with HPOS/VPOS/WIDTH/HEIGHT) of an ALTO document, any version."""
    root = _parse_xml(data, "ALTO")
    if _local(root.tag) != "alto":
        raise LayoutError(f"the root element is <{_local(root.tag)}>, not <alto>")
    builder = _Builder()
    width = height = None
    for element in root.iter():
        name = _local(element.tag)
        if name == "Page" and width is None:
            width = _number(element.get("WIDTH"))
            height = _number(element.get("HEIGHT"))
        elif name == "TextLine":
            builder.new_line()
        elif name == "String":
            x, y = _number(element.get("HPOS")), _number(element.get("VPOS"))
            w, h = _number(element.get("WIDTH")), _number(element.get("HEIGHT"))
            if None in (x, y, w, h):
                raise LayoutError("an ALTO String lacks HPOS, VPOS, WIDTH or HEIGHT")
            builder.add_word(element.get("CONTENT") or "", (x, y, x + w, y + h))
    return builder.layout(width, height)


def _number(value: str | None) -> int | None:
    try:
        return round(float(value)) if value is not None else None
    except ValueError:
        return None


def parse_plain(data: bytes) -> PageLayout:
    """A UTF-8 plain-text transcription (a BOM is dropped, line ends made "\\n")."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LayoutError(f"the text is not UTF-8 (byte {exc.start})") from None
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    return PageLayout(text)


PARSERS = {"hocr": parse_hocr, "alto": parse_alto, "text": parse_plain}
