"""Search inside one AIP's pages: hits in page order, with context and boxes to highlight.

Every page text keeps its folded tokens wrapped in spaces (``" ha  noi "``), so the
pages holding a phrase are one LIKE, and the number of hits on each is counted in SQL;
only the pages that fall on the requested page of results are read and tokenised. A
500-page book answers in milliseconds whatever the word.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from repository.catalog import Aip
from repository.errors import UsageError
from repository.text.models import PageText
from repository.text.pages import Page, aip_pages
from repository.text.tokens import phrase_pattern, query_tokens, tokenise

CONTEXT_CHARS = 48  # of prefix and suffix, cut back to a word boundary
MAX_QUERY_TOKENS = 20
MAX_TERMS = 10


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


def _query(query: str) -> list[str]:
    tokens = query_tokens(query or "")
    if not tokens:
        raise UsageError("give a word to search for: ?q=…")
    if len(tokens) > MAX_QUERY_TOKENS:
        raise UsageError(f"a query has at most {MAX_QUERY_TOKENS} words")
    return tokens


def _page_order(pages: list[Page]) -> dict[str, int]:
    return {p.sha512: n for n, p in enumerate(pages)}


def search_within(session: Session, aip: Aip, query: str, *, page: int = 1,
                  page_size: int = 100) -> SearchResult:
    """Hits of ``query`` (words, tones and case ignored) in ``aip``'s page texts."""
    tokens = _query(query)
    if page < 1:
        raise UsageError("page must be a whole number from 1")
    pattern = phrase_pattern(tokens)
    pages = aip_pages(session, aip)
    order = _page_order(pages)
    by_sha = {p.sha512: p for p in pages}
    count = (func.length(PageText.folded)
             - func.length(func.replace(PageText.folded, literal(pattern), literal("")))) \
        / len(pattern)
    rows = session.execute(
        select(PageText.id, PageText.image_sha512, PageText.source, PageText.language,
               count.label("n"))
        .where(PageText.aip_id == aip.id, PageText.folded.contains(pattern, autoescape=True))
    ).all()
    rows = sorted((r for r in rows if r.image_sha512 in order and r.n),
                  key=lambda r: (order[r.image_sha512], r.source != "transcription", r.language))
    total = sum(int(r.n) for r in rows)
    pages_count = max(1, -(-total // page_size))
    first = (page - 1) * page_size
    result = SearchResult(total, page, pages_count, first)
    if first >= total:
        return result
    wanted, seen = [], 0
    for r in rows:
        if seen + r.n > first and seen < first + page_size:
            wanted.append((r, seen))
        seen += int(r.n)
    full = {row.id: row for row in session.scalars(
        select(PageText).where(PageText.id.in_([r.id for r, _ in wanted])))}
    for r, offset in wanted:
        row = full[r.id]
        for n, hit in enumerate(_matches(row, by_sha[r.image_sha512], tokens)):
            if first <= offset + n < first + page_size:
                result.hits.append(hit)
    return result


def _matches(row: PageText, page: Page, tokens: list[str]):
    """Non-overlapping whole-token matches of ``tokens`` in ``row``'s text, in order."""
    words = tokenise(row.text)
    folded = [w.folded for w in words]
    n, i = len(tokens), 0
    while i <= len(words) - n:
        if folded[i:i + n] == tokens:
            start, end = words[i].start, words[i + n - 1].end
            yield Hit(page, row.id, row.source, row.language, start, end, row.text[start:end],
                      _before(row.text, start), _after(row.text, end),
                      _boxes(row.words or [], start, end))
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


def _boxes(words: list[list[int]], start: int, end: int) -> tuple[tuple[int, int, int, int], ...]:
    """The box around the matched words on each line they are on."""
    lines: dict[int, list[int]] = {}
    for x, y, w, h, line, w_start, w_end in words:
        if w_start < end and w_end > start:
            box = lines.get(line)
            lines[line] = [x, y, x + w, y + h] if box is None else [
                min(box[0], x), min(box[1], y), max(box[2], x + w), max(box[3], y + h)]
    return tuple((b[0], b[1], b[2] - b[0], b[3] - b[1]) for _, b in sorted(lines.items()))


def autocomplete(session: Session, aip: Aip, query: str, *, minimum: int = 1,
                 limit: int = MAX_TERMS) -> list[tuple[str, int]]:
    """Terms of ``aip``'s texts beginning with ``query`` (folded), most frequent first:
    (the term as printed, lower-cased, with its tones; its number of occurrences)."""
    tokens = _query(query)
    if not (query or "").rstrip() or (query or "")[-1].isspace():
        pattern = phrase_pattern(tokens)  # "ha noi " completes nothing further
    else:
        pattern = phrase_pattern(tokens)[:-1]
    order = _page_order(aip_pages(session, aip))
    rows = session.execute(select(PageText.id, PageText.image_sha512, PageText.folded).where(
        PageText.aip_id == aip.id, PageText.folded.contains(pattern, autoescape=True))).all()
    finder = re.compile(re.escape(pattern) if pattern.endswith(" ")
                        else re.escape(pattern) + r"\S*(?= )")
    counts: dict[str, int] = {}
    where: dict[str, int] = {}
    for row in rows:
        if row.image_sha512 not in order:
            continue
        for m in finder.finditer(row.folded):
            term = " ".join(m.group().split())
            counts[term] = counts.get(term, 0) + 1
            where.setdefault(term, row.id)
    best = sorted((t for t in counts if counts[t] >= minimum), key=lambda t: (-counts[t], t))
    best = best[:limit]
    texts = {r.id: r.text for r in session.execute(select(PageText.id, PageText.text).where(
        PageText.id.in_({where[t] for t in best})))}
    return [(_as_printed(texts.get(where[t], ""), t), counts[t]) for t in best]


def _as_printed(text: str, folded_term: str) -> str:
    """The first occurrence of a folded term in ``text``, lower-cased, tones kept."""
    wanted = folded_term.split()
    words = tokenise(text)
    for i in range(len(words) - len(wanted) + 1):
        if [w.folded for w in words[i:i + len(wanted)]] == wanted:
            return " ".join(text[w.start:w.end] for w in words[i:i + len(wanted)]).lower()
    return folded_term
