"""Tesseract on one page image: hOCR (word boxes) and plain text, and which AIPs get OCR.

The Debian binary is called directly (no wrapper library: one command line, and its
output files are what we keep). One Tesseract process reads one page with one thread
(OMP_THREAD_LIMIT=1); pages run side by side instead, which uses the cores better.
"""
from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from repository.config import Settings
from repository.errors import ConfigurationError, UsageError
from repository.metadata.text import fold_for_search

_LANGUAGES = re.compile(r"^[A-Za-z_]+(\+[A-Za-z_]+)*$")
# Formats Tesseract (Leptonica) reads as they are; others are converted to PNG first.
DIRECT_TYPES = {"image/jpeg", "image/png"}


@dataclass(frozen=True)
class OcrOutput:
    """What Tesseract made of one page."""

    hocr: bytes
    text: str


class OcrFailed(Exception):
    """Tesseract could not read a page (the message says why); the run goes on."""


def check_languages(languages: str) -> str:
    """``languages`` if it is Tesseract's form (``vie``, ``vie+fra``); UsageError if not."""
    languages = languages.strip()
    if not _LANGUAGES.match(languages):
        raise UsageError(f"OCR languages {languages!r} must be Tesseract language codes "
                         "joined by '+', such as vie or vie+fra")
    return languages


@functools.lru_cache(maxsize=8)
def installed_languages(command: str) -> frozenset[str]:
    """The languages the Tesseract at ``command`` has data for."""
    try:
        run = subprocess.run([command, "--list-langs"], capture_output=True, text=True,
                             timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigurationError(f"Tesseract ({command}) cannot be run: {exc}; "
                                 "install Debian's tesseract-ocr or set KHO_TESSERACT") from None
    return frozenset(line.strip() for line in run.stdout.splitlines()[1:] if line.strip())


def require_languages(settings: Settings, languages: str) -> None:
    """ConfigurationError naming the package when a language has no Tesseract data here."""
    missing = [lang for lang in check_languages(languages).split("+")
               if lang not in installed_languages(settings.tesseract_command)]
    if missing:
        raise ConfigurationError(
            f"Tesseract has no data for {', '.join(missing)}: install "
            + ", ".join(f"tesseract-ocr-{m.lower().replace('_', '-')}" for m in missing))


@functools.lru_cache(maxsize=8)
def tesseract_version(command: str) -> str:
    try:
        run = subprocess.run([command, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "Tesseract"
    first = (run.stdout or run.stderr).splitlines()
    return first[0].strip() if first else "Tesseract"


def read_page(settings: Settings, image: Path, mime_type: str, languages: str) -> OcrOutput:
    """OCR of the image file ``image``; OcrFailed when Tesseract cannot read it."""
    with tempfile.TemporaryDirectory(prefix="kho-ocr-", dir=_temp_root(settings)) as work:
        work_dir = Path(work)
        source = image if mime_type in DIRECT_TYPES else _as_png(image, work_dir / "page.png")
        base = work_dir / "out"
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            run = subprocess.run(
                [settings.tesseract_command, str(source), str(base), "-l", languages,
                 "hocr", "txt"], capture_output=True, env=env, timeout=settings.ocr_timeout_s)
        except subprocess.TimeoutExpired:
            raise OcrFailed(f"Tesseract took longer than {settings.ocr_timeout_s} s") from None
        except OSError as exc:
            raise OcrFailed(f"Tesseract cannot be run: {exc}") from None
        hocr, txt = base.with_suffix(".hocr"), base.with_suffix(".txt")
        if run.returncode != 0 or not hocr.is_file():
            message = run.stderr.decode("utf-8", "replace").strip().splitlines()
            raise OcrFailed(f"Tesseract failed (exit {run.returncode}): "
                            f"{message[-1] if message else 'no message'}")
        text = txt.read_text(encoding="utf-8", errors="replace") if txt.is_file() else ""
        return OcrOutput(hocr.read_bytes(), unicodedata.normalize("NFC", text))


def _temp_root(settings: Settings) -> Path:
    root = settings.staging_dir / "ocr"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _as_png(image: Path, target: Path) -> Path:
    """An 8-bit PNG of any image Kho serves (16-bit TIFF, JPEG 2000 …), for Tesseract."""
    import pyvips
    try:
        picture = pyvips.Image.new_from_file(str(image), access="sequential")
        if picture.format not in ("uchar", "char"):
            picture = picture.colourspace("b-w").cast("uchar") if picture.bands < 3 else \
                picture.colourspace("srgb").cast("uchar")
        picture.pngsave(str(target), compression=1)
    except pyvips.Error as exc:
        raise OcrFailed(f"the image cannot be decoded for OCR: {exc}") from None
    return target


# --- which AIPs get OCR ------------------------------------------------------------------

@dataclass(frozen=True)
class OcrRule:
    """One rule of KHO_OCR_LANGUAGES: ``collection:NAME``, ``type:DCTYPE`` or ``*``."""

    kind: str  # collection | type | any
    value: str  # folded
    languages: str


def parse_rules(text: str) -> list[OcrRule]:
    """The rules of KHO_OCR_LANGUAGES; ConfigurationError naming a rule that is not one."""
    rules = []
    for raw in text.split(";"):
        raw = raw.strip()
        if not raw:
            continue
        selector, sep, languages = raw.rpartition("=")
        selector = selector.strip()
        try:
            languages = check_languages(languages)
        except UsageError as exc:
            raise ConfigurationError(f"KHO_OCR_LANGUAGES rule {raw!r}: {exc}") from None
        if not sep or not selector:
            raise ConfigurationError(f"KHO_OCR_LANGUAGES rule {raw!r} must be SELECTOR=LANGUAGES")
        if selector == "*":
            rules.append(OcrRule("any", "", languages))
            continue
        kind, _, value = selector.partition(":")
        if kind.strip() not in ("collection", "type") or not value.strip():
            raise ConfigurationError(f"KHO_OCR_LANGUAGES rule {raw!r}: the selector must be "
                                     "collection:NAME, type:DCTYPE or *")
        rules.append(OcrRule(kind.strip(), fold_for_search(unicodedata.normalize(
            "NFC", value)), languages))
    return rules


def languages_for(settings: Settings, collection: str, record: dict) -> str | None:
    """The OCR languages for an AIP of ``collection`` described by ``record``, or None."""
    types = {fold_for_search(str(v.get("value", ""))) for v in record.get("type", [])
             if isinstance(v, dict)}
    folded_collection = fold_for_search(collection)
    for rule in parse_rules(settings.ocr_languages):
        if rule.kind == "any" or (rule.kind == "collection" and rule.value == folded_collection) \
                or (rule.kind == "type" and rule.value in types):
            return rule.languages
    return None
