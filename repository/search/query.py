"""What a reader types, parsed: words, "phrases", prefix*, field:word and date:1890..1910.

    ha noi                 both words, in any order, anywhere in the description
    "đại nam thực lục"     the words next to each other, in this order
    thuc*                  any word starting with "thuc"
    title:hà creator:"nguyễn du" subject:địa*   only in that field
    date:1890..1910        described as dated within (overlapping) those years; date:1890 too

Words are folded with the one fold (``search_tokens``), so tones, đ, case and NFD input do
not matter for matching; the tones typed are kept (``exact``) to rank exact matches first.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from repository.errors import UsageError
from repository.search.tokens import exact_tokens, search_tokens

FIELDS = ("title", "creator", "subject")
_PART = re.compile(r'(?:(?P<field>[A-Za-z]+):)?(?:"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+))')
_YEARS = re.compile(r"^(?P<lo>-?\d{1,4})?(?:(?P<range>\.\.)(?P<hi>-?\d{1,4})?)?(?P<decade>s)?$")


@dataclass(frozen=True)
class Term:
    """One thing to find: a word (one token) or a phrase (several), maybe a prefix, maybe
    only in one field."""

    tokens: tuple[str, ...]       # folded: ("ha", "noi")
    exact: tuple[str, ...]        # as typed, lower case, tones kept: ("hà", "nội")
    field: str | None = None      # None: any field
    prefix: bool = False          # the last token is a prefix
    # The indexed words the prefix stands for, when few (``finder.known_words``): a word
    # of MAX_WORD characters stands for every longer word it begins. None: not looked up.
    words: tuple[str, ...] | None = None

    @property
    def has_tones(self) -> bool:
        """Whether the reader typed marks that can rank exact matches above folded ones."""
        return self.exact != self.tokens


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...] = ()
    years: tuple[int | None, int | None] | None = None   # (from, to), either end open
    typed: bool = False           # the reader typed something (even if nothing searchable)

    @property
    def is_empty(self) -> bool:
        return not self.terms and self.years is None


def parse_years(text: str, name: str = "date") -> tuple[int | None, int | None]:
    """"1890..1910" → (1890, 1910); "1890" → (1890, 1890); "1890s" → (1890, 1899); "..1900"."""
    m = _YEARS.match(text.strip())
    if not m or (m["lo"] is None and m["hi"] is None) or (m["decade"] and m["range"]):
        raise UsageError(f"{name} must be a year (1890), a decade (1890s) or a range of years "
                         f"(1890..1910), not {text!r}")
    lo = int(m["lo"]) if m["lo"] is not None else None
    hi = int(m["hi"]) if m["hi"] is not None else (lo if not m["range"] else None)
    if m["decade"]:
        lo, hi = lo, lo + 9
    if lo is not None and hi is not None and hi < lo:
        lo, hi = hi, lo  # "1910..1890" means the same years as "1890..1910"
    return lo, hi


def parse_query(text: str) -> Query:
    """Parse what the reader typed (raw UTF-8, NFC or NFD, any case)."""
    text = unicodedata.normalize("NFC", text or "")
    terms: list[Term] = []
    years = None
    for m in _PART.finditer(text):
        name = (m["field"] or "").lower()
        raw = m["phrase"] if m["phrase"] is not None else m["word"]
        if name == "date":
            years = parse_years(raw)
            continue
        if name and name not in FIELDS:  # "Hà Nội:" or a URL: the colon is just punctuation
            raw, name = f"{m['field']} {raw}", ""
        prefix = m["word"] is not None and raw.endswith("*")
        tokens = tuple(search_tokens(raw))
        if not tokens:
            continue
        # A typed word that folds into several ("Hà-Nội", "大南") is a phrase, as in Lucene.
        terms.append(Term(tokens, tuple(exact_tokens(raw)) if len(exact_tokens(raw)) == len(tokens)
                          else tokens, name or None, prefix))
    return Query(tuple(terms), years, typed=bool(text.strip()))
