"""Choosing the reader for a register file: CSV (any of the encodings Kho reads) or MARC."""
from __future__ import annotations

from repository.errors import UsageError
from repository.holdings.csv_register import read_csv_register
from repository.holdings.encoding import decode_register
from repository.holdings.marc_register import is_iso2709, is_marcxml, read_marc_register
from repository.holdings.records import ItemRecord

FORMATS = ("auto", "csv", "marc", "marcxml")


def detect_format(data: bytes, name: str = "") -> str:
    lowered = name.lower()
    if lowered.endswith((".xml", ".marcxml")) or is_marcxml(data):
        return "marcxml"
    if lowered.endswith((".mrc", ".marc", ".iso", ".iso2709")) or is_iso2709(data):
        return "marc"
    return "csv"


def read_register(data: bytes, *, name: str = "the file", fmt: str = "auto",
                  rare_before: int = 1945) -> tuple[list[ItemRecord], str]:
    """(every item the file gives, how it was read); RegisterInvalid names every problem."""
    if fmt not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}")
    if fmt == "auto":
        fmt = detect_format(data, name)
    if fmt in ("marc", "marcxml"):
        return read_marc_register(data, rare_before=rare_before, name=name), \
            "MARCXML" if is_marcxml(data) else "MARC 21 (ISO 2709)"
    text, encoding = decode_register(data, name)
    return read_csv_register(text, name), f"CSV, {encoding}"
