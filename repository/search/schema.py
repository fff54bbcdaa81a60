"""Each backend's own index objects over search_documents (migrations 0015_search_compact,
0016_search_filters_in_index and 0017_search_keys_postgresql).

SQLite: two contentless FTS5 tables (``content=''``) keyed by the document's id. The folded
text of the four weighted fields (title, creator, subject, body: what a reader's words are
matched in) is in ``search_fts``, with positions for phrases, and a fifth column,
``filters``, holds a token per facet value (``f<id>``), one for the collection (``c<id>``)
and one for a date span too long to be listed under each decade (``ylong``): narrowing a
search by collection, type, language or decade is then part of the one MATCH, read from
the doclists, instead of a check of every match's row. ``search_marks`` (``detail=none``:
which documents hold a token, nothing more) has each toned word once, for ranking exact
matches first. The text is kept nowhere else, which is what keeps the index small (issue
11: at most 2× the Dublin Core). Our text is folded in Python before it gets here, because
FTS5's ``remove_diacritics 2`` leaves đ alone (SQLite 3.40).

SQLite 3.40 (Debian 12) cannot delete a row from a contentless table without being given
the text it indexed, which is not kept: a deleted document's words stay in the full-text
tables, unreachable, because every search joins search_documents, whose ids are never
given twice (AUTOINCREMENT). A re-index that leaves a document's text as it was (an access
change, a new version with the same description) keeps the document and its index rows
(``text_hash``); ``kho search reindex`` rebuilds the tables without the leftovers.

PostgreSQL: one ``tsvector`` column with the ``simple`` configuration on the folded text
(fields weighted A title, B creator, C subject, D the rest), followed by lexemes without
positions, each marked so that no word the parser makes and no prefix reaches them: the
words with their tones (for ranking exact matches first), and the keys its GIN index
answers exactly (``postgres_keys``: pairs of adjacent words, the fields' words, the filter
tokens); no ``unaccent`` (not IMMUTABLE, and the fold already happened); ``pg_trgm`` over
the word list for "did you mean".
"""
from __future__ import annotations

import base64
import zlib

FTS_TABLE = "search_fts"
MARKS_TABLE = "search_marks"
TEXT_COLUMNS = ("title", "creator", "subject", "body")   # where a reader's words are matched
FILTERS_COLUMN = "filters"
FTS_COLUMNS = (*TEXT_COLUMNS, FILTERS_COLUMN)
LONG_SPAN_TOKEN = "ylong"


def facet_token(value_id: int) -> str:
    """The filters column's token for a SearchFacetValue id."""
    return f"f{int(value_id)}"


def collection_token(collection_id: int) -> str:
    """The filters column's token for a collection id."""
    return f"c{int(collection_id)}"

_TOKENIZER = "tokenize='unicode61 remove_diacritics 0'"
# Writing a document's row of search_fts (rowid, then FTS_COLUMNS), and taking it out again
# (a contentless table must be given the same values: upkeep._unindex_fresh).
_FTS_VALUES = ", ".join("?" for _ in FTS_COLUMNS)
FTS_INSERT = f"INSERT INTO {FTS_TABLE}(rowid, {', '.join(FTS_COLUMNS)}) VALUES (?, {_FTS_VALUES})"
FTS_DELETE = (f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {', '.join(FTS_COLUMNS)}) "
              f"VALUES ('delete', ?, {_FTS_VALUES})")

SQLITE_INDEX_CREATE = [
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5({', '.join(FTS_COLUMNS)}, content='', "
    f"{_TOKENIZER})",
    f"CREATE VIRTUAL TABLE {MARKS_TABLE} USING fts5(marks, content='', detail=none, "
    f"columnsize=0, {_TOKENIZER})",
]
SQLITE_INDEX_DROP = [f"DROP TABLE IF EXISTS {MARKS_TABLE}", f"DROP TABLE IF EXISTS {FTS_TABLE}"]

# A row longer than about 2 kB has its longest value moved out of line (TOAST), and a
# search vector, mostly distinct short strings, does not compress: every rank and re-check
# of a match then read it back through the TOAST table's index (a common word's 10,000
# first matches took twice as long). Rows are kept whole up to a page (0017).
POSTGRES_INLINE_VECTORS = "ALTER TABLE search_documents SET (toast_tuple_target = 8160)"
POSTGRES_TOAST_DEFAULT = "ALTER TABLE search_documents RESET (toast_tuple_target)"

# 0015 to 0016 narrowed PostgreSQL's filters by facet value with this index; 0017 drops it
# (the vector holds the filter tokens).
POSTGRES_INDEX_CREATE = [
    "CREATE INDEX ix_search_documents_facet_values ON search_documents "
    "USING gin (facet_values)",
]
POSTGRES_INDEX_DROP = ["DROP INDEX IF EXISTS ix_search_documents_facet_values"]

# What 0010 to 0014 had, which their migrations (and 0015's downgrade) create and drop.
_LEGACY_FTS_COLUMNS = ("title", "creator", "subject", "body", "exact")

_cols = ", ".join(_LEGACY_FTS_COLUMNS)
_new = ", ".join(f"new.{c}" for c in _LEGACY_FTS_COLUMNS)
_old = ", ".join(f"old.{c}" for c in _LEGACY_FTS_COLUMNS)

# Only a change of the text re-indexes: copying an AIP's access onto its documents
# (0014_search_speed) must not rewrite the full-text index.
SQLITE_UPDATE_TRIGGER = (
    f"CREATE TRIGGER search_documents_au AFTER UPDATE OF {_cols} ON search_documents BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_cols}) VALUES ('delete', old.id, {_old}); "
    f"INSERT INTO {FTS_TABLE}(rowid, {_cols}) VALUES (new.id, {_new}); END")

SQLITE_CREATE = [
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5({_cols}, content='search_documents', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    f"CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, {_cols}) VALUES (new.id, {_new}); END",
    f"CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_cols}) VALUES ('delete', old.id, {_old}); END",
    SQLITE_UPDATE_TRIGGER,
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS search_documents_au",
               "DROP TRIGGER IF EXISTS search_documents_ad",
               "DROP TRIGGER IF EXISTS search_documents_ai",
               f"DROP TABLE IF EXISTS {FTS_TABLE}"]

# PostgreSQL: a toned word is kept as a lexeme of its own, EXACT_MARK before it, without a
# position. No word the parser makes starts so; unmarked, "nguyễn" would be one of the
# lexemes a prefix such as 'nguy':* stands for, and a phrase ending in that prefix
# ('tho' <-> 'nguy':*) then finds nothing (a lexeme without positions fails a phrase).
EXACT_MARK = "="

# PostgreSQL's GIN index keeps which documents hold a lexeme, not where nor in which field:
# a phrase or a field was a re-check of every row holding its words ('"thanh hoang"': 136,000
# rows read for 2,800 found, half a second at a million records), and a filter a check of
# every matching row. So the vector also holds, marked as the toned words are (no word
# starts so, and a prefix never reaches them), lexemes the index answers exactly:
PAIR_MARK = "+"       # two words next to each other in one field, hashed (``pair_key``)
FIELD_MARK = "@"      # a word of the title, creator or subject: "@Bnguyen" (the field's weight)
FILTER_MARK = "#"     # a filter token (FILTERS_COLUMN's): "#f12", "#c3", "#ylong"
# A text with more distinct pairs than this (a long book's pages) keeps none and holds the
# mark alone instead, which every phrase's pairs accept: such documents are rare and get
# the precise re-check, so a vector stays far below PostgreSQL's 1 MB for one tsvector.
MAX_PAIRS = 4000
UNPAIRED = PAIR_MARK
FIELD_WEIGHTS = {"title": "A", "creator": "B", "subject": "C"}


def pair_key(first: str, second: str) -> str:
    """The lexeme of two adjacent words: 24 bits of their CRC-32, so a pair costs 9 bytes
    of the vector rather than 16 ("+thanh hoang"); two pairs that share it only send one
    more row to the precise re-check a phrase has anyway."""
    crc = zlib.crc32(f"{first} {second}".encode("utf-8")) & 0xFFFFFF
    return PAIR_MARK + base64.urlsafe_b64encode(crc.to_bytes(3, "big")).decode("ascii")


def postgres_keys(fields: dict[str, str], filters: str) -> list[str]:
    """The marked lexemes of a document whose fields (name → text in search form, as
    TEXT_COLUMNS) and filter tokens are given: its pairs, its fields' words, its filters."""
    pairs: dict[str, None] = {}
    keys: dict[str, None] = {}
    for name, text in fields.items():
        words = text.split()
        pairs.update(dict.fromkeys(pair_key(a, b) for a, b in zip(words, words[1:])))
        if name in FIELD_WEIGHTS:
            keys.update(dict.fromkeys(f"{FIELD_MARK}{FIELD_WEIGHTS[name]}{w}" for w in words))
    keys.update(dict.fromkeys(pairs if len(pairs) <= MAX_PAIRS else [UNPAIRED]))
    keys.update(dict.fromkeys(FILTER_MARK + token for token in filters.split()))
    return list(keys)


# The search vector of a document written with bind parameters :v_title, :v_creator,
# :v_subject, :v_body (text) and :v_marked (the marked toned words and ``postgres_keys``,
# a text array; see upkeep._insert_documents).
POSTGRES_VECTOR = (
    "setweight(to_tsvector('simple'::regconfig, :v_title), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, :v_creator), 'B') || "
    "setweight(to_tsvector('simple'::regconfig, :v_subject), 'C') || "
    "setweight(to_tsvector('simple'::regconfig, :v_body), 'D') || "
    "array_to_tsvector(CAST(:v_marked AS text[]))")

POSTGRES_CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "ALTER TABLE search_documents ADD COLUMN search_vector tsvector",
    "CREATE INDEX ix_search_documents_search_vector ON search_documents "
    "USING gin (search_vector)",
    "CREATE INDEX ix_search_words_trigram ON search_words USING gin (word gin_trgm_ops)",
]
# What 0010 to 0013 had (0014's downgrade puts it back): generated from the stored text.
_OLD_POSTGRES_VECTORS = [
    "ALTER TABLE search_documents ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple'::regconfig, title), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, creator), 'B') || "
    "setweight(to_tsvector('simple'::regconfig, subject), 'C') || "
    "setweight(to_tsvector('simple'::regconfig, body), 'D')) STORED",
    "ALTER TABLE search_documents ADD COLUMN exact_vector tsvector GENERATED ALWAYS AS ("
    "to_tsvector('simple'::regconfig, exact)) STORED",
    "CREATE INDEX ix_search_documents_search_vector ON search_documents "
    "USING gin (search_vector)",
]

POSTGRES_DROP = ["DROP INDEX IF EXISTS ix_search_words_trigram",
                 "DROP INDEX IF EXISTS ix_search_documents_search_vector",
                 "ALTER TABLE search_documents DROP COLUMN IF EXISTS exact_vector",
                 "ALTER TABLE search_documents DROP COLUMN IF EXISTS search_vector"]

# What the models cannot describe, so schema comparisons (Alembic autogenerate, the
# migration test) leave it alone.
_UNMODELLED_TABLES = {name for table in (FTS_TABLE, MARKS_TABLE) for name in (
    table, *(f"{table}_{s}" for s in ("data", "idx", "docsize", "config", "content")))}
_UNMODELLED_COLUMNS = {("search_documents", "search_vector"), ("search_documents", "exact_vector")}
_UNMODELLED_INDEXES = {"ix_search_documents_search_vector", "ix_search_words_trigram",
                       "ix_search_documents_facet_values"}


def _execute(connection, sqlite: list[str], postgresql: list[str]) -> None:
    for statement in sqlite if connection.dialect.name == "sqlite" else postgresql:
        connection.exec_driver_sql(statement)


def create_index_objects(connection) -> None:
    """Create the backend's full-text objects of 0015 on (an empty) search_documents."""
    _execute(connection, SQLITE_INDEX_CREATE, POSTGRES_INDEX_CREATE)


def drop_index_objects(connection) -> None:
    _execute(connection, SQLITE_INDEX_DROP, POSTGRES_INDEX_DROP)


def create_backend_objects(connection) -> None:
    """The objects of 0010 to 0014 (an FTS5 table with external content kept by triggers;
    the search vector column): for those migrations and 0015's downgrade only."""
    _execute(connection, SQLITE_CREATE, POSTGRES_CREATE)


def drop_backend_objects(connection) -> None:
    _execute(connection, SQLITE_DROP, POSTGRES_DROP)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic ``include_object``: False for the search backends' own objects."""
    if not reflected or compare_to is not None:
        return True
    if type_ == "table":
        return name not in _UNMODELLED_TABLES
    if type_ == "column":
        return (obj.table.name, name) not in _UNMODELLED_COLUMNS
    if type_ == "index":
        return name not in _UNMODELLED_INDEXES
    return True
