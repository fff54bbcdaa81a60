"""Highlighted snippets in the original text, diacritics and all.

The index holds folded words only, so snippets are cut from the Dublin Core record itself:
each word of the original is folded the same way and marked when it answers the query.
The result is HTML: the text escaped, the matches in ``<mark>``.
"""
from __future__ import annotations

from html import escape

from repository.search.documents import values
from repository.search.query import Query
from repository.search.tokens import search_tokens, words

SNIPPET_WORDS = 30
# The fields shown under a hit, in order.
SNIPPET_FIELDS = (("title", ("title",)), ("creator", ("creator", "contributor")),
                  ("subject", ("subject", "coverage")), ("description", ("description",)))


def matcher(query: Query):
    """A test of one word of the original text: does it answer ``query``?"""
    exact = {token for t in query.terms for token in (t.tokens if not t.prefix else t.tokens[:-1])}
    prefixes = tuple(t.tokens[-1] for t in query.terms if t.prefix)

    # Folding is most of a search's Python time, and a page of hits repeats its words.
    known: dict[str, bool] = {}

    def matches(word: str) -> bool:
        if word not in known:
            folded = search_tokens(word)
            known[word] = bool(folded) and all(w in exact or w.startswith(prefixes)
                                               for w in folded)
        return known[word]
    return matches


def highlight(text: str, query: Query, max_words: int = SNIPPET_WORDS,
              matches=None) -> str | None:
    """``text`` as escaped HTML with the query's words marked, cut to a window around the
    first match; None when nothing in it matches. ``matches``: the query's ``matcher``,
    to share between calls."""
    matches = matches or matcher(query)
    all_words = list(words(text))
    found = [m for m in all_words if matches(m.group())]
    if not found:
        return None
    first = next(i for i, m in enumerate(all_words) if m.start() == found[0].start())
    lo = max(0, first - max_words // 3)
    hi = min(len(all_words), lo + max_words)
    start = all_words[lo].start() if lo else 0
    end = all_words[hi - 1].end() if hi < len(all_words) else len(text)
    marked = {m.start() for m in found}
    out, pos = ["…" if start else ""], start
    for m in all_words[lo:hi]:
        out.append(escape(text[pos:m.start()]))
        word = escape(m.group())
        out.append(f"<mark>{word}</mark>" if m.start() in marked else word)
        pos = m.end()
    out.append(escape(text[pos:end]))
    out.append("…" if end < len(text) else "")
    return "".join(out)


def snippets(record: dict, query: Query, matches=None) -> dict[str, str]:
    """Field name → highlighted snippet, for the fields of ``record`` the query matched.
    ``matches``: the query's ``matcher``, to share between the records of a page."""
    out: dict[str, str] = {}
    if not query.terms:
        return out
    matches = matches or matcher(query)
    for name, elements in SNIPPET_FIELDS:
        for item in values(record, elements):
            marked = highlight(item["value"], query, matches=matches)
            if marked:
                out[name] = marked
                break
    return out
