"""The register's words: statuses, CSV column headings, yes/no and priorities, in English
and Vietnamese. Input is matched folded (no case, no diacritics), output uses these codes.
"""
from __future__ import annotations

from functools import lru_cache

from repository.metadata.text import fold_for_search

# The programme's ladder. Staff set the first four; the last two follow from Kho's records.
NOT_STARTED, SELECTED, BEING_SCANNED, SCANNED = "not_started", "selected", "being_scanned", "scanned"
PRESERVED, PUBLISHED = "preserved", "published"
STAFF_STATUSES = (NOT_STARTED, SELECTED, BEING_SCANNED, SCANNED)
STATUSES = (*STAFF_STATUSES, PRESERVED, PUBLISHED)

STATUS_LABELS = {
    "en": {NOT_STARTED: "not started", SELECTED: "selected", BEING_SCANNED: "being scanned",
           SCANNED: "scanned", PRESERVED: "preserved", PUBLISHED: "published"},
    "vi": {NOT_STARTED: "chưa bắt đầu", SELECTED: "đã chọn", BEING_SCANNED: "đang số hoá",
           SCANNED: "đã số hoá", PRESERVED: "đã lưu trữ", PUBLISHED: "đã công bố"},
}
_STATUS_WORDS = {fold_for_search(word): code for code in STATUSES for word in (
    code, code.replace("_", " "), STATUS_LABELS["en"][code], STATUS_LABELS["vi"][code])}
_STATUS_WORDS.update({fold_for_search(w): c for w, c in (
    ("đang quét", BEING_SCANNED), ("đã quét", SCANNED), ("chưa số hoá", NOT_STARTED),
    ("chưa", NOT_STARTED), ("đã lưu", PRESERVED), ("đã xuất bản", PUBLISHED))})

PRIORITY_LABELS = {"en": {1: "high", 2: "medium", 3: "low", None: "not set"},
                   "vi": {1: "cao", 2: "trung bình", 3: "thấp", None: "chưa đặt"}}
_PRIORITY_WORDS = {fold_for_search(w): n for n in (1, 2, 3)
                   for w in (str(n), PRIORITY_LABELS["en"][n], PRIORITY_LABELS["vi"][n])}
_PRIORITY_WORDS.update({"urgent": 1, "khan cap": 1, "normal": 2, "binh thuong": 2})

_YES = {"yes", "y", "true", "1", "x", "co", "c", "dung", "quy hiem", "rare"}
_NO = {"no", "n", "false", "0", "khong", "k", "sai", ""}

# CSV columns: the attribute, then every heading understood for it (matched folded).
COLUMNS: dict[str, tuple[str, ...]] = {
    "shelfmark": ("shelfmark", "call number", "ký hiệu xếp giá", "ký hiệu", "số hiệu", "kho số"),
    "title": ("title", "nhan đề", "tên tài liệu", "nhan đề chính"),
    "parallel_titles": ("parallel titles", "parallel title", "nhan đề song song", "nhan đề khác"),
    "creator": ("creator", "author", "tác giả"),
    "date": ("date", "năm", "thời gian", "niên đại"),
    "item_type": ("type", "loại hình", "loại tài liệu"),
    "languages": ("language", "languages", "ngôn ngữ"),
    "scripts": ("script", "scripts", "chữ viết", "văn tự"),
    "rare": ("rare", "quý hiếm", "cổ quý hiếm", "rare/old/valuable"),
    "condition": ("condition", "tình trạng", "tình trạng vật lý"),
    "pages": ("pages", "số trang"),
    "priority": ("priority", "ưu tiên", "mức ưu tiên"),
    "notes": ("notes", "note", "ghi chú"),
    "collection": ("collection", "sưu tập", "bộ sưu tập"),
    "status": ("status", "trạng thái"),
}
_HEADINGS = {fold_for_search(h): attribute for attribute, hs in COLUMNS.items() for h in hs}
# The heading the template uses for each attribute: English, then Vietnamese.
TEMPLATE_HEADINGS = {a: (hs[0], next(h for h in hs if not h.isascii())) for a, hs in COLUMNS.items()}
LIST_SEPARATOR = "|"  # parallel titles, languages, scripts: "Hán | Nôm"


def column_for(heading: str) -> str | None:
    """The attribute a CSV heading names ("Ký hiệu xếp giá" → "shelfmark"), or None."""
    return _HEADINGS.get(fold_for_search(heading.replace("_", " ")))


@lru_cache(maxsize=256)  # a register repeats a handful of words 100,000 times
def parse_status(text: str) -> str:
    """A status code from a code or an English or Vietnamese label; ValueError otherwise."""
    code = _STATUS_WORDS.get(fold_for_search(text))
    if code is None:
        raise ValueError(f"{text!r} is not a status; use one of "
                         + ", ".join(STATUS_LABELS["en"][s] for s in STAFF_STATUSES)
                         + " (" + ", ".join(STATUS_LABELS["vi"][s] for s in STAFF_STATUSES) + ")")
    return code


@lru_cache(maxsize=256)
def parse_yes_no(text: str) -> bool:
    word = fold_for_search(text)
    if word in _YES:
        return True
    if word in _NO:
        return False
    raise ValueError(f"{text!r} is not yes or no (yes/no, có/không)")


@lru_cache(maxsize=256)
def parse_priority(text: str) -> int | None:
    if not text.strip():
        return None
    number = _PRIORITY_WORDS.get(fold_for_search(text))
    if number is None:
        raise ValueError(f"{text!r} is not a priority: 1/high/cao, 2/medium/trung bình, 3/low/thấp")
    return number


def shelfmark_key(shelfmark: str) -> str:
    """What two shelfmarks must share to be the same: no case, diacritics or extra spaces."""
    if shelfmark.isascii():  # most are ("HN.0001"): the same result, ten times faster
        return " ".join(shelfmark.lower().split())
    return fold_for_search(shelfmark)
