"""Search inside one AIP's pages: hits in page order, with context and boxes to highlight.

Every page text keeps its folded tokens wrapped in spaces (``" ha  noi "``), so a phrase
is a substring: the folded copies of a book (a few MB for 500 pages) are kept in memory
per process and counted with ``str.count``; only the pages that fall on the requested page
of results are read whole and tokenised (and kept). A 500-page book answers in
milliseconds whatever the word.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import bisect
import threading
from array import array
from collections import OrderedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from repository.catalog import Aip
from repository.errors import UsageError
from repository.text.models import PageText
from repository.text.pages import Page, aip_pages, text_stamp
from repository.text.tokens import phrase_pattern, query_tokens, tokenise

CONTEXT_CHARS = 48  # of prefix and suffix, cut back to a word boundary
MAX_QUERY_TOKENS = 20
MAX_TERMS = 10
FULL_ROWS_KEPT = 256  # tokenised page texts kept per book (the pages of recent hits)


@dataclass(frozen=True)
class Hit:
    """One match of the query on one page's text."""

    page: Page
    row_id: int
    source: str
    language: str
    start: int
    end: int
    exact: str
    prefix: str
    suffix: str
    boxes: tuple[tuple[int, int, int, int], ...]  # one per line it spans; () without word boxes


@dataclass
class SearchResult:
    total: int
    page: int  # 1-based
    pages: int
    start_index: int
    hits: list[Hit] = field(default_factory=list)


def empty_result(query: str) -> SearchResult:
    """No hits (a filter excluded every annotation); a missing query is still an error."""
    _query(query)
    return SearchResult(0, 1, 1, 0)


def _query(query: str) -> list[str]:
    tokens = query_tokens(query or "")
    if not tokens:
        raise UsageError("give a word to search for: ?q=…")
    if len(tokens) > MAX_QUERY_TOKENS:
        raise UsageError(f"a query has at most {MAX_QUERY_TOKENS} words")
    return tokens


@dataclass
class _Book:
    """What answering a query on one AIP needs, kept between queries (see TextIndexCache)."""

    rows: list[tuple[int, str, str, str, str]]  # (id, image sha512, source, language, folded)
    pages: dict[str, Page]
    full: "OrderedDict[int, _Text]" = field(default_factory=OrderedDict)

    def text_of(self, session: Session, row_ids: list[int]) -> dict[int, "_Text"]:
        """Rows read and tokenised once, kept as flat arrays (few objects for the collector
        to walk, whatever the size of the book)."""
        missing = [i for i in row_ids if i not in self.full]
        if missing:
            for row_id, text, words in session.execute(select(
                    PageText.id, PageText.text, PageText.words).where(PageText.id.in_(missing))):
                self.full[row_id] = _Text.of(text, words or [])
            while len(self.full) > FULL_ROWS_KEPT:
                self.full.popitem(last=False)
        return {i: self.full[i] for i in row_ids if i in self.full}


@dataclass(frozen=True)
class _Text:
    text: str
    starts: array
    ends: array
    folded: list[str]
    boxes: array  # 7 ints a word: x, y, w, h, line, start, end (ordered by start)
    word_ends: array

    @classmethod
    def of(cls, text: str, words: list) -> "_Text":
        tokens = tokenise(text)
        flat = array("i", (v for word in words for v in word))
        return cls(text, array("i", (t.start for t in tokens)), array("i", (t.end for t in tokens)),
                   [t.folded for t in tokens], flat, array("i", flat[6::7]))


class TextIndexCache:
    """Per process: each recently searched AIP's folded page texts in page order, keyed by
    its version and the newest change of its texts, so a changed text is seen at once."""

    def __init__(self, max_books: int = 16):
        self.max_books = max_books
        self._books: OrderedDict[int, tuple[tuple, _Book]] = OrderedDict()
        self._lock = threading.Lock()

    def book(self, session: Session, aip: Aip) -> _Book:
        stamp = (aip.current_version, text_stamp(session, aip))
        with self._lock:
            held = self._books.get(aip.id)
            if held is not None and held[0] == stamp:
                self._books.move_to_end(aip.id)
                return held[1]
        book = _load_book(session, aip)
        with self._lock:
            self._books[aip.id] = (stamp, book)
            while len(self._books) > self.max_books:
                self._books.popitem(last=False)
        return book


def _load_book(session: Session, aip: Aip) -> _Book:
    pages = aip_pages(session, aip)
    order = {p.sha512: n for n, p in enumerate(pages)}
    rows = [tuple(r) for r in session.execute(
        select(PageText.id, PageText.image_sha512, PageText.source, PageText.language,
               PageText.folded).where(PageText.aip_id == aip.id))
        if r.image_sha512 in order]
    rows.sort(key=lambda r: (order[r[1]], r[2] != "transcription", r[3]))
    return _Book(rows, {p.sha512: p for p in pages})


def search_within(session: Session, aip: Aip, query: str, *, page: int = 1,
                  page_size: int = 100, cache: TextIndexCache | None = None) -> SearchResult:
    """Hits of ``query`` (words, tones and case ignored) in ``aip``'s page texts."""
    tokens = _query(query)
    if page < 1:
        raise UsageError("page must be a whole number from 1")
    pattern = phrase_pattern(tokens)
    book = (cache or TextIndexCache(1)).book(session, aip)
    # str.count on the folded copies (C speed); only the result page's rows are read whole.
    counts = [(row, row[4].count(pattern)) for row in book.rows if pattern in row[4]]
    total = sum(n for _, n in counts)
    pages_count = max(1, -(-total // page_size))
    first = (page - 1) * page_size
    result = SearchResult(total, page, pages_count, first)
    if first >= total:
        return result
    wanted, seen = [], 0
    for row, n in counts:
        if seen + n > first and seen < first + page_size:
            wanted.append((row, seen))
        seen += n
    full = book.text_of(session, [row[0] for row, _ in wanted])
    for row, offset in wanted:
        for n, hit in enumerate(_matches(row, full[row[0]], book.pages[row[1]], tokens)):
            if first <= offset + n < first + page_size:
                result.hits.append(hit)
    return result


def _matches(row, page_text: _Text, page: Page, tokens: list[str]):
    """Non-overlapping whole-token matches of ``tokens`` in a row's text, in order."""
    folded, text = page_text.folded, page_text.text
    n, i = len(tokens), 0
    first = tokens[0]
    while i <= len(folded) - n:
        try:
            i = folded.index(first, i, len(folded) - n + 1)
        except ValueError:
            return
        if folded[i:i + n] == tokens:
            start, end = page_text.starts[i], page_text.ends[i + n - 1]
            yield Hit(page, row[0], row[2], row[3], start, end, text[start:end],
                      _before(text, start), _after(text, end), _boxes(page_text, start, end))
            i += n
        else:
            i += 1


def _before(text: str, start: int) -> str:
    chunk = text[max(0, start - CONTEXT_CHARS):start]
    if start > CONTEXT_CHARS and " " in chunk:
        chunk = chunk.split(" ", 1)[1]
    return re.sub(r"\s+", " ", chunk)


def _after(text: str, end: int) -> str:
    chunk = text[end:end + CONTEXT_CHARS]
    if end + CONTEXT_CHARS < len(text) and " " in chunk:
        chunk = chunk.rsplit(" ", 1)[0]
    return re.sub(r"\s+", " ", chunk)


def _boxes(page_text: _Text, start: int, end: int) -> tuple[tuple[int, int, int, int], ...]:
    """The box around the matched words on each line they are on."""
    flat, lines = page_text.boxes, {}
    k = bisect.bisect_right(page_text.word_ends, start)  # first word ending after start
    while k < len(page_text.word_ends):
        x, y, w, h, line, w_start, w_end = flat[k * 7:k * 7 + 7]
        if w_start >= end:
            break
        box = lines.get(line)
        lines[line] = [x, y, x + w, y + h] if box is None else [
            min(box[0], x), min(box[1], y), max(box[2], x + w), max(box[3], y + h)]
        k += 1
    return tuple((b[0], b[1], b[2] - b[0], b[3] - b[1]) for _, b in sorted(lines.items()))


def autocomplete(session: Session, aip: Aip, query: str, *, minimum: int = 1,
                 limit: int = MAX_TERMS, cache: TextIndexCache | None = None) -> list[tuple[str, int]]:
    """Terms of ``aip``'s texts beginning with ``query`` (folded), most frequent first:
    (the term as printed, lower-cased, with its tones; its number of occurrences)."""
    tokens = _query(query)
    pattern = phrase_pattern(tokens)
    if not (query or "")[-1:].isspace():
        pattern = pattern[:-1]  # "ha no" completes "ha noi"; "ha noi " only itself
    book = (cache or TextIndexCache(1)).book(session, aip)
    finder = re.compile(re.escape(pattern) if pattern.endswith(" ")
                        else re.escape(pattern) + r"\S*(?= )")
    counts: dict[str, int] = {}
    where: dict[str, int] = {}
    for row in book.rows:
        if pattern not in row[4]:
            continue
        for m in finder.finditer(row[4]):
            term = " ".join(m.group().split())
            counts[term] = counts.get(term, 0) + 1
            where.setdefault(term, row[0])
    best = sorted((t for t in counts if counts[t] >= minimum), key=lambda t: (-counts[t], t))
    best = best[:limit]
    full = book.text_of(session, list({where[t] for t in best}))
    return [(_as_printed(full[where[t]], t), counts[t]) for t in best]


def _as_printed(page_text: _Text, folded_term: str) -> str:
    """The first occurrence of a folded term in the text, lower-cased, tones kept."""
    wanted = folded_term.split()
    folded, n = page_text.folded, len(wanted)
    for i in range(len(folded) - n + 1):
        if folded[i:i + n] == wanted:
            return page_text.text[page_text.starts[i]:page_text.ends[i + n - 1]].lower()
    return folded_term
