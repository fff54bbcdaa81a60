"""Vietnamese-safe text: NFC for storage, an accent-folded form for search.

Vietnamese text arrives both precomposed (NFC, most keyboards) and decomposed (NFD, macOS
file names, some OCR tools). Kho stores NFC (Unicode UAX #15) so equal titles are equal
bytes, and searches a folded copy so "ha noi", "HÀ NỘI" and "Hà Nội" find one another.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache

# Letters with no Unicode decomposition that readers still type without their stroke.
# U+00D0/U+00F0 (Icelandic eth) look exactly like Đ/đ and turn up in legacy
# Vietnamese data converted from TCVN3/VNI fonts, so they fold the same way.
_STROKED = str.maketrans({"đ": "d", "Đ": "d", "ð": "d", "Ð": "d"})


@lru_cache(maxsize=1)
def _combining_marks() -> dict[int, None]:
    """A str.translate table deleting every combining mark (built once, on first use):
    the search index folds every record through here, so it must be quick."""
    # No character beyond plane 2 has a non-zero combining class (Unicode 15).
    return {cp: None for cp in range(0x30000) if unicodedata.combining(chr(cp))}


def normalise_text(s: str) -> str:
    """``s`` in Unicode NFC, diacritics kept exactly as given."""
    return unicodedata.normalize("NFC", s)


def fold_for_search(s: str) -> str:
    """``s`` lower-cased, without diacritics, đ as d, spaces collapsed: "Hà  Nội" → "ha noi"."""
    # NFKD also folds compatibility forms (full-width letters, ligatures, CJK
    # compatibility ideographs) that look the same to a reader.
    decomposed = unicodedata.normalize("NFKD", s.casefold().translate(_STROKED))
    bare = decomposed.translate(_combining_marks())
    # Recompose what is left (e.g. Hangul jamo) so the folded copy is itself NFC.
    return " ".join(unicodedata.normalize("NFC", bare).split())
