"""The search index rewritten (issue 11): on PostgreSQL a toned word's lexeme is marked
(schema.EXACT_MARK), so a phrase ending in a prefix ("thơ nguy*") finds what it should; on
both databases the vocabulary keeps the first 100 characters of a longer word, so a prefix
can be matched as the words it stands for (finder.known_words). Nothing in the schema
changes; the index is rebuilt.

Revision ID: 0016_search_marked_exact
Revises: 0015_search_compact
Create Date: 2026-12-06
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0016_search_marked_exact"
down_revision: Union[str, Sequence[str], None] = "0015_search_compact"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    from sqlalchemy.orm import Session
    from repository.search.upkeep import reindex
    reindex(Session(bind=op.get_bind()))


def downgrade() -> None:
    # The index stays as this revision wrote it: run `kho search reindex` with the older Kho
    # (on PostgreSQL its exact-tone ranking would not see the marked lexemes until then).
    pass
