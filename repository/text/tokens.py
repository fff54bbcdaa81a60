"""Words of a page's text as searchable tokens, folded like Kho's other search.

A token is a run of letters and digits (with their combining marks), so "Nội," gives
"Nội"; each Han character (Hán-Nôm is written without spaces) is a token of its own, so a
query of two characters finds them inside a longer run. Matching compares folded tokens
(tones, case and đ ignored: "ha noi" finds "Hà Nội"), whole tokens only.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from repository.metadata.text import fold_for_search

# CJK Unified Ideographs (and extensions A–H), compatibility ideographs, and the
# supplementary planes where most Nôm-only characters are (Ext. B onwards).
_HAN = (r"\u2e80-\u2fdf\u3005\u3007\u3021-\u3029\u3038-\u303b\u3400-\u4dbf\u4e00-\u9fff"
        r"\uf900-\ufaff\U00020000-\U0003134f")
_TOKEN = re.compile(rf"[{_HAN}]|[^\W{_HAN}_](?:[^\W{_HAN}_]|[\u0300-\u036f])*")


@dataclass(frozen=True)
class Token:
    """A word of the text: where it is (character offsets) and its folded form."""

    start: int
    end: int
    folded: str


def tokenise(text: str) -> list[Token]:
    """The tokens of NFC ``text`` in order."""
    return [Token(m.start(), m.end(), fold_for_search(m.group()))
            for m in _TOKEN.finditer(text)]


def query_tokens(query: str) -> list[str]:
    """A query's folded tokens (NFC first, so NFD and precomposed input agree)."""
    return [t.folded for t in tokenise(unicodedata.normalize("NFC", query))]


def folded_index(tokens: list[Token]) -> str:
    """Each folded token wrapped in spaces: " ha  noi ". A phrase is then a substring
    (" ha  noi "), found with LIKE and counted with replace() in any SQL database."""
    return "".join(f" {t.folded} " for t in tokens)


def phrase_pattern(folded_query: list[str]) -> str:
    """The substring of :func:`folded_index` output that a whole-token phrase match is."""
    return "".join(f" {t} " for t in folded_query)
