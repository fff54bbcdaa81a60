"""The two search backends behind one interface, chosen by the database's dialect.

Each turns a parsed ``Query`` into: a match condition on search_documents, a rank to order
by (best first), and a condition true for documents matching the words as typed, tones
and all ("Hà Nội" ranks above "Hà nói" for the query "hà nội"). A word in the title counts
more than one elsewhere: on PostgreSQL by ``ts_rank`` with field weights (title, then
creator, then subject, then the rest); on SQLite by how many of the query's terms the
title holds (bm25's cost grows with the whole index, see ``SqliteBackend.rank``).
"""
from __future__ import annotations

import json

from sqlalchemy import (ColumnElement, Integer, and_, case, cast, column, func, literal,
                        literal_column, select, table, text, type_coerce)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY

from repository.search.models import MAX_WORD, SearchDocument
from repository.search.query import Query, Term
from repository.search.schema import (EXACT_MARK, FIELD_MARK, FIELD_WEIGHTS, FILTER_MARK,
                                      FILTERS_COLUMN, FTS_TABLE, MARKS_TABLE, TEXT_COLUMNS,
                                      UNPAIRED, pair_key)

# SQLite's rank: each of the query's terms found in the title counts this much more than
# a title's length in characters (``SqliteBackend.rank``).
TITLE_TIER = 1000
_TEXT_COLUMNS = "{" + " ".join(TEXT_COLUMNS) + "}"


class Backend:
    """What differs between databases; ``search`` does the rest with plain SQLAlchemy."""

    name = ""

    def match(self, query: Query, required=()) -> ColumnElement[bool]:
        """The documents matching ``query``'s terms and holding one token of each group of
        ``required`` (schema.FILTERS_COLUMN's tokens: collection, facet values, decades),
        so a narrow filter reads only the documents it keeps."""
        raise NotImplementedError

    def rank(self, query: Query):
        """A score for each match, computed once per match (``finder.first_matches``);
        ORDER BY ``rank_order`` of it, ascending, puts the best match first."""
        raise NotImplementedError

    def rank_order(self, score):
        """What to ORDER BY, given the column of ``rank``'s scores."""
        return score

    # Whether ``exact`` may be asked of the ranked candidates' ids (``exact(query, ids,
    # since)``) rather than of search_documents' rows.
    exact_on_ids = False

    def exact(self, query: Query, ids=None, since=None) -> ColumnElement[bool] | None:
        """True where the words match with the tones typed; None if none were typed.
        ``ids``: the column of document ids it is about (search_documents.id if None);
        ``since``: no document below this id is asked about (a scalar subquery)."""
        raise NotImplementedError

    def join(self, statement):
        """``statement`` with whatever the backend needs in FROM to match."""
        return statement

    def within(self, first: int, last: int) -> ColumnElement[bool]:
        """A condition the match can use to read only documents ``first``..``last``."""
        return SearchDocument.id.between(first, last)

    def json_rows(self, *columns):
        """An aggregate: a JSON array with one array of ``columns`` per row."""
        raise NotImplementedError

    @staticmethod
    def json_value(value) -> list:
        """What the driver returns for ``json_rows`` (text or parsed), as a list."""
        if value is None:
            return []
        return json.loads(value) if isinstance(value, str) else value

    def newest_first(self):
        """An ORDER BY that lists matches newest first as cheaply as in no order; or None."""
        return None

    def facet_value_rows(self, facet_values):
        """A table-valued FROM item: one row (column ``value``) per id in ``facet_values``,
        a column of SearchDocument.facet_values' type."""
        raise NotImplementedError


class SqliteBackend(Backend):
    name = "sqlite"
    _fts = table(FTS_TABLE, column("rowid"))

    @staticmethod
    def _term(term: Term, tokens: tuple[str, ...], columns: str) -> str:
        if term.prefix and term.words:  # the prefix's words, read lazily (finder.known_words)
            phrases = " OR ".join(
                '"' + " ".join((*tokens[:-1], word)) + '"' + (" *" if len(word) >= MAX_WORD
                                                               else "")
                for word in term.words)
            return f"{columns} : ({phrases})"
        phrase = '"' + " ".join(tokens) + '"' + (" *" if term.prefix else "")
        return f"{columns} : {phrase}"

    def _expression(self, query: Query, required) -> str:
        words = [self._term(t, t.tokens, t.field or _TEXT_COLUMNS) for t in query.terms]
        filters = [f"{FILTERS_COLUMN} : (" + " OR ".join(f'"{token}"' for token in group) + ")"
                   for group in required]
        return " AND ".join(words + filters)

    def join(self, statement):
        return statement.join(self._fts, self._fts.c.rowid == SearchDocument.id)

    def json_rows(self, *columns):
        return func.json_group_array(func.json_array(*columns))

    def within(self, first: int, last: int):
        # A rowid range is a constraint FTS5 seeks its doclists to; an IN list is not.
        return self._fts.c.rowid.between(first, last)

    def newest_first(self):
        # FTS5 reads its doclists backwards as fast as forwards (rowid DESC is in its plan);
        # ordering by search_documents.id would make it look each row up instead.
        return self._fts.c.rowid.desc()

    def match(self, query: Query, required=()):
        return text(f"{FTS_TABLE} MATCH :fts_query").bindparams(
            fts_query=self._expression(query, required))

    def rank(self, query: Query):
        # Tiers, not bm25: bm25 first reads the whole doclist of every word of the query to
        # count the documents holding it, 10-35 ms a common word at a million records,
        # whatever the cap; the title is on the row the match reads anyway. More of the
        # query's words (or phrases) in the title first, then the shorter such title (as
        # bm25 favours a short field); ties are left to the caller (newest first). The
        # terms are looked for once per match: naming them twice, to give every match
        # without them one score, cost 8-15 ms of a 50 ms search at a million records;
        # ``rank_order`` does that on the score instead.
        in_title = [self._in_title(t) for t in query.terms if t.field in (None, "title")]
        if not in_title:
            return literal(0)
        return -sum(in_title) * TITLE_TIER + func.min(func.length(SearchDocument.title),
                                                       TITLE_TIER - 1)

    def rank_order(self, score):
        # A score ≥ 0 is a match with none of the terms in its title: all alike, whatever
        # the title's length.
        return case((score >= 0, TITLE_TIER - 1), else_=score)

    @staticmethod
    def _in_title(term: Term):
        """1 where the term's words are in the document's title, in order, else 0."""
        # The title is stored in search form (words folded, one space between them).
        needle = " " + " ".join(term.tokens) + ("" if term.prefix else " ")
        haystack = literal(" ") + SearchDocument.title + literal(" ")
        return case((func.instr(haystack, needle) > 0, 1), else_=0)

    exact_on_ids = True

    def exact(self, query: Query, ids=None, since=None):
        toned = [t for t in query.terms if t.has_tones and not t.prefix]
        if not toned:
            return None
        # The marks table holds each toned word once, without order: words, not phrases.
        expression = " AND ".join(f'"{w}"' for t in toned for w in t.exact if not w.isascii())
        if not expression:
            return None
        inner = table(MARKS_TABLE, column("rowid"))
        exact = select(inner.c.rowid).where(text(f"{MARKS_TABLE} MATCH :fts_exact")
                                            .bindparams(fts_exact=expression))
        if since is not None:
            # The IN list is built whole, before any candidate is looked at: at a million
            # records "hà nội" lists 100,000 rowids. The candidates are the newest matches,
            # so FTS5 need only read its doclists from the oldest of them on.
            exact = exact.where(inner.c.rowid >= since)
        return (SearchDocument.id if ids is None else ids).in_(exact.correlate(None))

    def facet_value_rows(self, facet_values):
        return func.json_each(facet_values).table_valued("value")


class PostgresBackend(Backend):
    name = "postgresql"
    _vector = literal_column("search_documents.search_vector")

    @staticmethod
    def _phrase(tokens: tuple[str, ...], prefix: bool, weight: str) -> str:
        lexemes = [f"'{token}'" + (f":{weight}" if weight else "") for token in tokens]
        if prefix:
            lexemes[-1] = f"'{tokens[-1]}':*{weight}"
        return " <-> ".join(lexemes)

    def _term(self, term: Term, tokens: tuple[str, ...]) -> str:
        weight = FIELD_WEIGHTS.get(term.field or "", "")
        if weight or len(tokens) == 1:
            return "(" + self._phrase(tokens, term.prefix, weight) + ")"
        # The fields' vectors are concatenated end to end, so a phrase could run from the
        # end of the subject into the description; as in FTS5, it must lie in one field.
        return "(" + " | ".join(f"({self._phrase(tokens, term.prefix, w)})"
                                for w in "ABCD") + ")"

    def _tsquery(self, expression: str):
        return func.to_tsquery(literal_column("'simple'::regconfig"), expression)

    def json_rows(self, *columns):
        return func.json_agg(func.json_build_array(*columns))

    @staticmethod
    def _lexeme(text: str, prefix: bool = False) -> str:
        """``text`` as one lexeme of tsquery input (cast, not parsed: marks are kept)."""
        quoted = text.replace("\\", "\\\\").replace("'", "''")
        return f"'{quoted}'" + (":*" if prefix else "")

    def _keys(self, term: Term) -> str:
        """What the GIN index answers exactly for ``term`` (the words, or the field's words,
        and the pairs of a phrase: schema.postgres_keys), as tsquery input."""
        tokens = term.tokens
        mark = FIELD_MARK + FIELD_WEIGHTS[term.field] if term.field else ""
        whole = tokens[:-1] if term.prefix else tokens
        keys = [self._lexeme(mark + token) for token in whole]
        pairs = [self._lexeme(pair_key(a, b)) for a, b in zip(whole, whole[1:])]
        if term.prefix and term.words:
            # The prefix's words ORed (finder.known_words): GIN reads each word's list and
            # skips along the rarer terms', where a prefix (:*) is first gathered whole
            # into a bitmap ("thieu tri*": 145 -> 53 ms at a million records).
            keys.append(self._any(self._lexeme(mark + word, len(word) >= MAX_WORD)
                                  for word in term.words))
            if whole:  # a word of MAX_WORD characters is a stand-in: no pair is kept for it
                ends = [pair_key(whole[-1], word) for word in term.words if len(word) < MAX_WORD]
                if len(ends) == len(term.words):
                    pairs.append(self._any(map(self._lexeme, ends)))
        elif term.prefix:
            # Pairs are hashed, so a prefix cannot be one: a phrase ending in a prefix has
            # the pairs before it only.
            keys.append(self._lexeme(mark + tokens[-1], prefix=True))
        if pairs:
            keys.append("(" + " & ".join(pairs) + f" | {self._lexeme(UNPAIRED)})")
        return " & ".join(keys)

    @staticmethod
    def _any(lexemes) -> str:
        return "(" + " | ".join(lexemes) + ")"

    def match(self, query: Query, required=()):
        keys = [self._keys(t) for t in query.terms]
        keys += ["(" + " | ".join(self._lexeme(FILTER_MARK + token) for token in group) + ")"
                 for group in required]
        # Cast, not parsed: the parser would drop the marks.
        narrowed = self._vector.op("@@")(cast(literal(" & ".join(keys)), TSQUERY))
        if all(len(t.tokens) == 1 for t in query.terms):
            return narrowed  # words and fields' words: what GIN answers exactly
        # A phrase's pairs may lie apart ("a b" and "b c" are not "a b c"), and a phrase in
        # a field must be in that field: the precise query re-checks the rows GIN found.
        # (Alone, its alternatives, one per field, were estimated as their sum, and the
        # planner read the whole table; the keys ANDed are estimated well.)
        expression = " & ".join(self._term(t, t.tokens) for t in query.terms)
        return and_(narrowed, self._vector.op("@@")(self._tsquery(expression)))

    def rank(self, query: Query):
        expression = " & ".join(self._term(t, t.tokens) for t in query.terms)
        return -func.ts_rank(self._vector, self._tsquery(expression))

    def exact(self, query: Query, ids=None, since=None):
        toned = [t for t in query.terms if t.has_tones and not t.prefix]
        if not toned:
            return None
        expression = " & ".join(self._lexeme(EXACT_MARK + w) for t in toned for w in t.exact
                                if not w.isascii())
        if not expression:
            return None
        # The toned words follow the folded ones in the same vector, marked (schema.py);
        # cast, not parsed: the parser would drop the mark.
        return self._vector.op("@@")(cast(literal(expression), TSQUERY))

    def facet_value_rows(self, facet_values):
        return func.unnest(type_coerce(facet_values, ARRAY(Integer))).table_valued(
            "value").render_derived()


def backend_for(session) -> Backend:
    """The backend for the database ``session`` talks to."""
    name = session.get_bind().dialect.name
    return SqliteBackend() if name == "sqlite" else PostgresBackend()
