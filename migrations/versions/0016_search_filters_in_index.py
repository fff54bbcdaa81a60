"""The search index rewritten (issue 11). On SQLite the full-text table gains a column of
filter tokens (facet values, collection, long date spans: schema.FILTERS_COLUMN), so a
search narrowed by them is one MATCH, and the toned-words table loses the facet tokens.
On PostgreSQL a toned word's lexeme is marked (schema.EXACT_MARK), so a phrase ending in
a prefix ("thơ nguy*") finds what it should. On both, the vocabulary keeps the first 100
characters of a longer word, so a prefix can be matched as the words it stands for
(finder.known_words). The index is rebuilt.

Revision ID: 0016_search_filters_in_index
Revises: 0015_search_compact
Create Date: 2026-12-06
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0016_search_filters_in_index"
down_revision: Union[str, Sequence[str], None] = "0015_search_compact"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# search_fts as 0015 made it (0015 itself creates today's index objects, whose layout this
# revision introduces; a downgrade puts back what 0015 had).
_FTS_0015 = ("CREATE VIRTUAL TABLE search_fts USING fts5(title, creator, subject, body, "
             "content='', tokenize='unicode61 remove_diacritics 0')")


def upgrade() -> None:
    from sqlalchemy.orm import Session
    from repository.search.schema import create_index_objects, drop_index_objects
    from repository.search.upkeep import reindex
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        drop_index_objects(bind)
        create_index_objects(bind)
    reindex(Session(bind=bind))


def downgrade() -> None:
    # The index is left empty: run `kho search reindex` with the older Kho.
    bind = op.get_bind()
    op.execute("DELETE FROM search_documents")
    op.execute("DELETE FROM search_words")
    if bind.dialect.name == "sqlite":
        from repository.search.schema import MARKS_TABLE, SQLITE_INDEX_CREATE, drop_index_objects
        drop_index_objects(bind)
        op.execute(_FTS_0015)
        op.execute(next(s for s in SQLITE_INDEX_CREATE if MARKS_TABLE in s))
