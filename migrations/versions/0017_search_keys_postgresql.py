"""PostgreSQL's search vector gains lexemes its GIN index answers exactly (issue 11): the
pairs of adjacent words, the words of the title, creator and subject, and the filter
tokens (schema.postgres_keys). A phrase, a field or a filter by collection, type, language
or decade is then looked up in the index instead of re-checked on every row holding the
words; the GIN index over facet value ids, which only those filters used, goes. Rows keep
their vector inline up to a page (schema.POSTGRES_INLINE_VECTORS). The index is rebuilt on
PostgreSQL; SQLite is unchanged.

Revision ID: 0017_search_keys_postgresql
Revises: 0016_search_filters_in_index
Create Date: 2026-12-06
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0017_search_keys_postgresql"
down_revision: Union[str, Sequence[str], None] = "0016_search_filters_in_index"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from sqlalchemy.orm import Session
    from repository.search.schema import POSTGRES_INDEX_DROP, POSTGRES_INLINE_VECTORS
    from repository.search.upkeep import reindex
    for statement in [*POSTGRES_INDEX_DROP, POSTGRES_INLINE_VECTORS]:
        op.execute(statement)
    reindex(Session(bind=bind))


def downgrade() -> None:
    # The vectors keep their marked lexemes, which the older search never asks for.
    if op.get_bind().dialect.name == "postgresql":
        from repository.search.schema import POSTGRES_INDEX_CREATE, POSTGRES_TOAST_DEFAULT
        for statement in [*POSTGRES_INDEX_CREATE, POSTGRES_TOAST_DEFAULT]:
            op.execute(statement)
