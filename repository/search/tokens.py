"""The search form of text: folded words, each Hán character a word of its own.

Index and query both go through ``search_tokens``, so whatever a reader types is cut and
folded exactly as the catalogue's text was. The fold itself (NFC → NFD, marks dropped,
đ → d, lower case) is ``repository.metadata.text.fold_for_search``: one fold for Kho.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Iterator

from repository.metadata.text import fold_for_search

# CJK ideographs (unified, extensions A–G, compatibility): Hán and Nôm characters carry no
# spaces between words, so each one is a token and a run of them is searched as a phrase
# ("大南" finds "大南寔錄"). Kana and Hangul ride along for the rare mixed record.
_HAN = ("\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
        "\U00020000-\U0003134f")
# A word: a Hán character alone, or a run of letters and digits (no underscore, which
# PostgreSQL's parser would split on). Hyphens, apostrophes and spaces all separate words,
# so "Hà-Nội" and "Hà Nội" are the same two words.
_WORD = re.compile(rf"[{_HAN}]|(?:(?![{_HAN}])[^\W_])+")
# Combining marks left unattached (NFD input whose base letter is punctuation) stay in a word.
_MARKS = re.compile(r"[\u0300-\u036f]")


def words(text: str) -> Iterator[re.Match]:
    """The words of ``text`` (NFC) as regex matches, for highlighting the original."""
    return _WORD.finditer(text)


def search_tokens(text: str) -> list[str]:
    """The folded words of ``text``: "Hà-Nội, 大南" → ["ha", "noi", "大", "南"]."""
    return _WORD.findall(fold_for_search(text))


def exact_tokens(text: str) -> list[str]:
    """The words of ``text`` lower-cased with their tones kept, for ranking exact matches."""
    nfc = unicodedata.normalize("NFC", text).lower()
    return _WORD.findall(_MARKS.sub("", nfc))


def search_form(text: str) -> str:
    """``search_tokens`` joined by spaces: what the index stores."""
    return " ".join(search_tokens(text))


def exact_form(text: str) -> str:
    """The words of ``text`` that carry marks, each once, tones kept: "hà nội nội ca" →
    "hà nội". Exact matching asks only whether such words are there, so order and
    repeats would only cost space."""
    seen = dict.fromkeys(w for w in exact_tokens(text) if not w.isascii())
    return " ".join(seen)
