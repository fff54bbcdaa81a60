"""Search at a million records (issue 11): documents carry their AIP's access, embargo,
collection and withdrawal, so a search decides who may read a hit without joining aips;
on PostgreSQL one search vector written with the document replaces two generated from
stored text. The index is rebuilt by 0015.

Revision ID: 0014_search_speed
Revises: 0013_aip_copies
Create Date: 2026-12-05
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0014_search_speed"
down_revision: Union[str, Sequence[str], None] = "0013_aip_copies"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # The update trigger re-indexed a document's text on any update; from now on only
        # on a change of its text.
        from repository.search.schema import SQLITE_UPDATE_TRIGGER
        op.execute("DROP TRIGGER IF EXISTS search_documents_au")
        op.execute(SQLITE_UPDATE_TRIGGER)
    else:
        # One vector written with the document (the toned words in it, stripped of
        # positions) replaces two generated ones; the text is no longer kept beside it.
        op.execute("ALTER TABLE search_documents DROP COLUMN IF EXISTS exact_vector")
        op.execute("ALTER TABLE search_documents DROP COLUMN IF EXISTS search_vector")
        op.execute("ALTER TABLE search_documents ADD COLUMN search_vector tsvector")
        op.execute("CREATE INDEX ix_search_documents_search_vector ON search_documents "
                   "USING gin (search_vector)")
    op.add_column("search_documents", sa.Column("access", sa.String(length=20), nullable=True))
    op.add_column("search_documents", sa.Column("embargo_until", sa.Date(), nullable=True))
    op.add_column("search_documents", sa.Column("collection_id", sa.Integer(), nullable=True))
    op.add_column("search_documents", sa.Column("withdrawn", sa.Boolean(), nullable=False,
                                                server_default=sa.false()))
    # The index is built by 0015_search_compact, whose tables today's indexing code writes.


def downgrade() -> None:
    # Not batch mode: rebuilding the table on SQLite would drop the full-text triggers;
    # SQLite ≥ 3.35 drops a column in place. On PostgreSQL the generated vectors come back
    # empty (the text was not kept): run `kho search reindex` with the older Kho.
    for name in ("withdrawn", "collection_id", "embargo_until", "access"):
        op.drop_column("search_documents", name)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE search_documents DROP COLUMN IF EXISTS exact_vector")
        op.execute("ALTER TABLE search_documents DROP COLUMN IF EXISTS search_vector")
        from repository.search.schema import _OLD_POSTGRES_VECTORS
        for statement in _OLD_POSTGRES_VECTORS:
            op.execute(statement)
